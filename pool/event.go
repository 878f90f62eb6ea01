package pool

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// Event types written by pool operations, in the same unit of work as the
// change, with the customer as subject. The payload of each is the
// operation's ledger [Entry] as an [EntryPayload]; each type has an alias
// of it named after the event ([ClaimedPayload], ...), to decode with
// [crm.DecodePayload].
const (
	// EventAcquired: a user brought in a new customer as its owner
	// ([Service.Create]); payload [AcquiredPayload]. The customer's fields
	// are in its change event, crm.EventCustomerCreated.
	EventAcquired crm.EventType = "customer.acquired"
	// EventClaimed: a user claimed a pooled customer ([Service.Claim]);
	// payload [ClaimedPayload].
	EventClaimed crm.EventType = "customer.claimed"
	// EventReleased: the owner gave a customer back to a pool
	// ([Service.Release]); payload [ReleasedPayload].
	EventReleased crm.EventType = "customer.released"
	// EventAssigned: a manager gave a customer an owner ([Service.Assign]);
	// payload [AssignedPayload].
	EventAssigned crm.EventType = "customer.assigned"
	// EventTransferred: a customer moved from one owner to another
	// ([Service.Transfer]); payload [TransferredPayload].
	EventTransferred crm.EventType = "customer.transferred"
	// EventLocked: a customer was locked against recycling
	// ([Service.Lock]); payload [LockedPayload].
	EventLocked crm.EventType = "customer.locked"
	// EventUnlocked: a customer's lock was lifted ([Service.Unlock]);
	// payload [UnlockedPayload].
	EventUnlocked crm.EventType = "customer.unlocked"
	// EventMoved: a pooled customer moved to another pool
	// ([Service.Move]); payload [MovedPayload].
	EventMoved crm.EventType = "customer.moved"
	// EventPooled: an existing customer entered a pool ([Service.Enter]);
	// payload [PooledPayload].
	EventPooled crm.EventType = "customer.pooled"
	// EventRecycled: a sweep took a customer from its owner back into the
	// pool ([Service.Sweep]); the actor is the system; payload
	// [RecycledPayload], whose Reason and RuleID name the recycling rule.
	EventRecycled crm.EventType = "customer.recycled"
)

var eventOf = map[Op]crm.EventType{
	OpCreate: EventAcquired, OpClaim: EventClaimed, OpRelease: EventReleased,
	OpAssign: EventAssigned, OpTransfer: EventTransferred, OpLock: EventLocked,
	OpUnlock: EventUnlocked, OpMove: EventMoved, OpEnter: EventPooled, OpRecycle: EventRecycled,
	OpMerge: EventOwnershipMerged, OpUnmerge: EventOwnershipUnmerged,
}

// EntryPayload is the payload of every event a ledger entry writes: the
// [Entry] without its tenant, rule snapshot and idempotency key (consumers
// that need the snapshot read the ledger). Its JSON is the same as
// encoding/json writes for it; the [Service] encodes it by hand because a
// sweep writes one per customer. Safe for concurrent reads.
type EntryPayload struct {
	// EntryID is the ledger entry's ID.
	EntryID crm.ID `json:"entry_id"`
	// Seq is the ledger entry's Seq (not the event's).
	Seq        int64  `json:"seq"`
	CustomerID crm.ID `json:"customer_id"`
	Op         Op     `json:"op"`
	FromOwner  crm.ID `json:"from_owner,omitzero"`
	ToOwner    crm.ID `json:"to_owner,omitzero"`
	FromPool   crm.ID `json:"from_pool,omitzero"`
	ToPool     crm.ID `json:"to_pool,omitzero"`
	ActorID    crm.ID `json:"actor_id,omitzero"`
	Reason     string `json:"reason,omitempty"`
	RuleID     string `json:"rule_id,omitempty"`
	// At is when the operation happened, in UTC.
	At time.Time `json:"at"`
}

// Payload types of the pool's events, one name per event type; all are an
// [EntryPayload], whose Op tells the operation.
type (
	// AcquiredPayload is the payload of [EventAcquired] (Op [OpCreate]).
	AcquiredPayload = EntryPayload
	// ClaimedPayload is the payload of [EventClaimed] (Op [OpClaim]).
	ClaimedPayload = EntryPayload
	// ReleasedPayload is the payload of [EventReleased] (Op [OpRelease]).
	ReleasedPayload = EntryPayload
	// AssignedPayload is the payload of [EventAssigned] (Op [OpAssign]).
	AssignedPayload = EntryPayload
	// TransferredPayload is the payload of [EventTransferred] (Op
	// [OpTransfer]).
	TransferredPayload = EntryPayload
	// LockedPayload is the payload of [EventLocked] (Op [OpLock]).
	LockedPayload = EntryPayload
	// UnlockedPayload is the payload of [EventUnlocked] (Op [OpUnlock]).
	UnlockedPayload = EntryPayload
	// MovedPayload is the payload of [EventMoved] (Op [OpMove]).
	MovedPayload = EntryPayload
	// PooledPayload is the payload of [EventPooled] (Op [OpEnter]).
	PooledPayload = EntryPayload
	// RecycledPayload is the payload of [EventRecycled] (Op [OpRecycle]).
	RecycledPayload = EntryPayload
	// OwnershipMergedPayload is the payload of [EventOwnershipMerged] (Op
	// [OpMerge]).
	OwnershipMergedPayload = EntryPayload
	// OwnershipUnmergedPayload is the payload of [EventOwnershipUnmerged]
	// (Op [OpUnmerge]).
	OwnershipUnmergedPayload = EntryPayload
)

// Payload returns the payload of e's event.
func (e *Entry) Payload() EntryPayload {
	return EntryPayload{
		EntryID: e.ID, Seq: e.Seq, CustomerID: e.CustomerID, Op: e.Op, FromOwner: e.FromOwner, ToOwner: e.ToOwner,
		FromPool: e.FromPool, ToPool: e.ToPool, ActorID: e.ActorID, Reason: e.Reason, RuleID: e.RuleID, At: e.At.UTC(),
	}
}

// PayloadSeqOffset is where the digits of Seq start in an [EntryPayload]
// the [Service] encodes: the payload begins {"entry_id":"<the entry's 36
// characters>","seq":. A one-write claim ([ClaimStore.PoolClaim]) does not
// know its entry's Seq yet: its event's payload carries "seq":0, and the
// adapter puts the Seq's decimal digits in place of that 0 — in SQL, or
// with [SetPayloadSeq].
const PayloadSeqOffset = len(`{"entry_id":"`) + 36 + len(`","seq":`)

// SetPayloadSeq returns payload, an [EntryPayload] the [Service] encoded
// with Seq 0, with Seq set to seq, in a new slice. It refuses a payload not
// in that form with an error matching [crm.ErrInvalidArgument].
func SetPayloadSeq(payload []byte, seq int64) ([]byte, error) {
	if len(payload) <= PayloadSeqOffset+1 || string(payload[:len(`{"entry_id":"`)]) != `{"entry_id":"` ||
		string(payload[PayloadSeqOffset-len(`","seq":`):PayloadSeqOffset+2]) != `","seq":0,` {
		return nil, crm.Invalid("payload", "is not a pool entry payload with seq 0")
	}
	b := make([]byte, 0, len(payload)+19)
	b = append(b, payload[:PayloadSeqOffset]...)
	b = strconv.AppendInt(b, seq, 10)
	return append(b, payload[PayloadSeqOffset+1:]...), nil
}

// appendJSON appends p as encoding/json would encode it, without
// allocating; at, when not nil, is p.At already formatted as RFC 3339 (a
// sweep batch formats its one time once).
func (p *EntryPayload) appendJSON(b, at []byte) []byte {
	b = append(b, `{"entry_id":"`...)
	b = appendID(b, p.EntryID)
	b = append(b, `","seq":`...)
	b = strconv.AppendInt(b, p.Seq, 10)
	b = append(b, `,"customer_id":"`...)
	b = appendID(b, p.CustomerID)
	b = append(b, `","op":`...)
	b = appendJSONString(b, string(p.Op))
	b = appendIDField(b, "from_owner", p.FromOwner)
	b = appendIDField(b, "to_owner", p.ToOwner)
	b = appendIDField(b, "from_pool", p.FromPool)
	b = appendIDField(b, "to_pool", p.ToPool)
	b = appendIDField(b, "actor_id", p.ActorID)
	if p.Reason != "" {
		b = append(b, `,"reason":`...)
		b = appendJSONString(b, p.Reason)
	}
	if p.RuleID != "" {
		b = append(b, `,"rule_id":`...)
		b = appendJSONString(b, p.RuleID)
	}
	b = append(b, `,"at":"`...)
	if at == nil {
		b = p.At.AppendFormat(b, time.RFC3339Nano)
	} else {
		b = append(b, at...)
	}
	return append(b, `"}`...)
}

func appendIDField(b []byte, name string, id crm.ID) []byte {
	if id == crm.NilID {
		return b
	}
	b = append(b, `,"`...)
	b = append(b, name...)
	b = append(b, `":"`...)
	b = appendID(b, id)
	return append(b, '"')
}

// appendID appends id in its canonical text form without allocating.
func appendID(b []byte, id crm.ID) []byte {
	const hex = "0123456789abcdef"
	for i, x := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hex[x>>4], hex[x&0xf])
	}
	return b
}

// appendJSONString quotes s as encoding/json does. Printable ASCII without
// quotes, backslashes or the characters encoding/json escapes for HTML
// (<, >, &) is the common case and takes the fast path.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= 0x80 {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
