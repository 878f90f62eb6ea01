package crmtest

import (
	"encoding/binary"
	"sync/atomic"

	"github.com/crmkit/crmkit/crm"
)

// IDs is a deterministic [crm.IDGenerator]: it returns
// 00000000-0000-7000-8000-000000000001, then ...0002, and so on, shaped like
// version 7 UUIDs and increasing in byte order, so the ID order of records is
// their creation order and test output is stable. It is safe for concurrent
// use.
type IDs struct {
	n atomic.Uint64
}

var _ crm.IDGenerator = (*IDs)(nil)

// NewIDs returns a generator starting at 1.
func NewIDs() *IDs { return &IDs{} }

// NewID implements [crm.IDGenerator].
func (g *IDs) NewID() crm.ID { return SequentialID(g.n.Add(1)) }

// SequentialID returns the n-th ID that [IDs] hands out.
func SequentialID(n uint64) crm.ID {
	var id crm.ID
	id[6] = 0x70
	id[8] = 0x80
	binary.BigEndian.PutUint64(id[8:], n)
	id[8] |= 0x80
	return id
}
