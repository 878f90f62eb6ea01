package dedupe

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/crmkit/crmkit/crm"
)

// Tx is the storage port the dedupe package needs from a unit of work. An
// adapter supports storage-backed checks and merges when the [crm.Tx] it
// passes to [crm.Store.InTx] also implements Tx (memstore and pgstore do);
// [Service] reports [crm.ErrUnsupported] otherwise. The method name carries a
// "Dedupe" prefix so one adapter type can implement the ports of several
// domain packages.
//
// The port follows the contract of [crm.Store]: tenancy comes from the
// context ([crm.WithTenant]) and keys of another tenant are invisible;
// values are copied in and out; a method called with a done context returns
// the context's error (wrapped) and a unit of work whose context ends before
// it commits keeps nothing.
type Tx interface {
	crm.Tx
	// DedupeKeys stores the normalised match keys of records.
	DedupeKeys() KeyStore
}

// TxOf returns tx as a dedupe [Tx], or an error matching
// [crm.ErrUnsupported] when the adapter has no dedupe port.
func TxOf(tx crm.Tx) (Tx, error) {
	if dt, ok := tx.(Tx); ok {
		return dt, nil
	}
	dt, ok := crm.As[Tx](tx)
	if !ok {
		return nil, fmt.Errorf("dedupe: storage adapter %T has no dedupe port: %w", tx, crm.ErrUnsupported)
	}
	return joinedTx{Tx: tx, ports: dt}, nil
}

// joinedTx is a wrapped unit of work seen as a dedupe [Tx]: the shared
// records through the wrapper, so a recording wrapper (package history)
// sees every write, and the key store of the adapter inside it.
type joinedTx struct {
	crm.Tx
	ports Tx
}

// DedupeKeys implements [Tx].
func (j joinedTx) DedupeKeys() KeyStore { return j.ports.DedupeKeys() }

// Unwrap implements [crm.TxWrapper].
func (j joinedTx) Unwrap() crm.Tx { return j.Tx }

// Key is one normalised blocking key of a record: records that share a key
// are compared. Kind says which normaliser made it ("company", "phone" ...);
// keys of different kinds never match each other.
type Key struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

// RecordKeys are all the keys of one record.
type RecordKeys struct {
	// RecordID is the record the keys belong to. Required.
	RecordID crm.ID `json:"record_id"`
	// Strong is the record's strongest key, "" for none: two records of one
	// tenant never hold the same strong key, which is what stops two
	// concurrent entries of one customer from both being stored.
	Strong string `json:"strong,omitempty"`
	// Keys are the blocking keys, at most [MaxKeysPerRecord]; a repeated
	// key is stored once.
	Keys []Key `json:"keys,omitempty"`
}

// Limits of the key port, the same on every adapter.
const (
	// MaxKeysPerRecord is the most blocking keys one record may hold.
	MaxKeysPerRecord = 64
	// MaxKeyLength is the longest key value (and strong key), in bytes.
	MaxKeyLength = 256
	// MaxPerKey is the largest per-key limit of [KeyStore.Lookup].
	MaxPerKey = 1000
	// StrongKind is the kind under which adapters may store strong keys
	// next to blocking keys; blocking keys cannot use it.
	StrongKind = "strong"
)

// Validate reports every problem of the key set as [crm.ValidationErrors].
// Adapters call it before storing keys.
func (k *RecordKeys) Validate() error {
	var errs crm.ValidationErrors
	if k.RecordID == crm.NilID {
		errs = append(errs, crm.Invalid("record_id", "is required"))
	}
	if k.Strong != "" {
		if err := checkKeyValue("strong", k.Strong); err != nil {
			errs = append(errs, err)
		}
	}
	if len(k.Keys) > MaxKeysPerRecord {
		errs = append(errs, crm.Invalid("keys", "at most %d keys, got %d", MaxKeysPerRecord, len(k.Keys)))
	}
	for i, key := range k.Keys {
		if err := key.validate(fmt.Sprintf("keys[%d]", i)); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func (k Key) validate(field string) *crm.ValidationError {
	if !validKind(k.Kind) {
		return crm.Invalid(field+".kind", "must be 1-32 lower-case letters or underscores and not %q, got %q", StrongKind, clipForError(k.Kind))
	}
	return checkKeyValue(field+".value", k.Value)
}

func validKind(kind string) bool {
	if kind == "" || len(kind) > 32 || kind == StrongKind {
		return false
	}
	for i := 0; i < len(kind); i++ {
		if c := kind[i]; (c < 'a' || c > 'z') && c != '_' {
			return false
		}
	}
	return true
}

func checkKeyValue(field, v string) *crm.ValidationError {
	switch {
	case v == "":
		return crm.Invalid(field, "is required")
	case len(v) > MaxKeyLength:
		return crm.Invalid(field, "at most %d bytes, got %d", MaxKeyLength, len(v))
	case !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0:
		return crm.Invalid(field, "must be valid UTF-8 text without NUL bytes")
	}
	return nil
}

// ValidateLookup checks the arguments of [KeyStore.Lookup]; adapters call
// it first.
func ValidateLookup(keys []Key, perKey int) error {
	var errs crm.ValidationErrors
	if perKey < 1 || perKey > MaxPerKey {
		errs = append(errs, crm.Invalid("per_key", "must be between 1 and %d, got %d", MaxPerKey, perKey))
	}
	if len(keys) > MaxKeysPerRecord {
		errs = append(errs, crm.Invalid("keys", "at most %d keys, got %d", MaxKeysPerRecord, len(keys)))
	}
	for i, key := range keys {
		if err := key.validate(fmt.Sprintf("keys[%d]", i)); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// KeyStore stores the normalised match keys of records, per tenant, so a
// database can find the candidates of a check through an index instead of
// reading every record. Records are referred to by ID only: the port does
// not read the records themselves.
type KeyStore interface {
	// Put replaces every key of keys.RecordID with keys (validated first:
	// [*crm.ValidationError] naming the field, nothing written). When
	// another record of the tenant holds keys.Strong it returns a
	// [*KeyTakenError] naming that record, which matches
	// [crm.ErrAlreadyExists], and changes nothing; of concurrent units of
	// work putting one strong key, at most one commits it.
	Put(ctx context.Context, keys *RecordKeys) error
	// Get returns a copy of the record's keys (blocking keys sorted by
	// kind, then value), or [crm.ErrNotFound] when it has none.
	Get(ctx context.Context, recordID crm.ID) (*RecordKeys, error)
	// Delete removes every key of the record; a record without keys is not
	// an error.
	Delete(ctx context.Context, recordID crm.ID) error
	// Lookup returns the IDs of the tenant's records holding any of keys,
	// once each, in ascending ID order. For each key it reads at most
	// perKey records, those with the highest IDs (the newest, for UUIDv7
	// IDs), so a key shared by a million records costs no more than a rare
	// one. perKey is 1 to [MaxPerKey]; at most [MaxKeysPerRecord] keys.
	Lookup(ctx context.Context, keys []Key, perKey int) ([]crm.ID, error)
	// Holder returns the record holding the strong key, or
	// [crm.ErrNotFound].
	Holder(ctx context.Context, strong string) (crm.ID, error)
}

// KeyTakenError reports that a strong key is held by another record. It
// matches [crm.ErrAlreadyExists].
type KeyTakenError struct {
	// Key is the strong key.
	Key string
	// HolderID is the record that holds it.
	HolderID crm.ID
}

// Error implements error.
func (e *KeyTakenError) Error() string {
	return fmt.Sprintf("dedupe: strong key %q is held by record %s", clipForError(e.Key), e.HolderID)
}

// Is reports whether target is [crm.ErrAlreadyExists].
func (e *KeyTakenError) Is(target error) bool { return target == crm.ErrAlreadyExists }

// clipForError shortens s for an error message without cutting a
// character in two.
func clipForError(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
