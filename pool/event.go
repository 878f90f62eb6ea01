package pool

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// Event types of pool operations, with the customer as subject. Each
// ownership ledger [Entry] is one of these events: the adapter stores one
// record that is both ([Ledger.Append], [Entry.Event]), so the event has
// the entry's ID and Seq. The payload of each is the entry as an
// [EntryPayload]; each type has an alias of it named after the event
// ([ClaimedPayload], ...), to decode with [crm.DecodePayload].
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

// EntryPayload is the payload of the event a ledger entry is: the [Entry]
// without its tenant, rule snapshot and idempotency key (consumers that
// need the snapshot read the ledger). Its JSON is the same as
// encoding/json writes for it; [Entry.AppendPayload] encodes it by hand
// because a sweep writes one per customer. Safe for concurrent reads.
type EntryPayload struct {
	// EntryID is the ledger entry's ID, which is also its event's ID.
	EntryID crm.ID `json:"entry_id"`
	// Seq is the ledger entry's Seq, which is also its event's Seq.
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

// EventType returns the type of the event an entry of op is, and false
// for an operation the package does not know.
func (op Op) EventType() (crm.EventType, bool) {
	t, ok := eventOf[op]
	return t, ok
}

// AppendPayload appends the JSON of e's [EntryPayload] to b, exactly as
// encoding/json would write it, and returns the extended slice. Adapters
// call it to write the payload of the event an entry is.
func (e *Entry) AppendPayload(b []byte) []byte {
	p := e.Payload()
	return p.appendJSON(b, nil)
}

// Event returns the event e is, as [Ledger.Append] stores it with the
// entry: the entry's ID, Seq and tenant, the type of its operation
// ([Op.EventType]), the customer as subject, the actor, e.At as the time
// and the [EntryPayload] as payload. It refuses an entry [Entry.Validate]
// refuses.
func (e *Entry) Event() (crm.Event, error) {
	if err := e.Validate(); err != nil {
		return crm.Event{}, err
	}
	typ, _ := e.Op.EventType()
	return crm.Event{ID: e.ID, TenantID: e.TenantID, Seq: e.Seq, Type: typ, Subject: crm.Ref{Type: crm.TypeCustomer, ID: e.CustomerID},
		ActorID: e.ActorID, OccurredAt: e.At, Payload: e.AppendPayload(make([]byte, 0, 320))}, nil
}

// PayloadSeqOffset is where the digits of Seq start in the payload
// [Entry.AppendPayload] writes: it begins {"entry_id":"<the entry's 36
// characters>","seq":. An adapter that assigns Seq in the statement that
// stores the entry (pgstore) encodes the payload with Seq 0 and puts the
// Seq's decimal digits in place of that 0.
const PayloadSeqOffset = len(`{"entry_id":"`) + 36 + len(`","seq":`)

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
