package crm_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
)

func TestDiffListsChangedBusinessFields(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	old := &crm.Customer{Meta: crm.Meta{ID: crm.ID{1}, Version: 3, UpdatedAt: at}, Name: "Huateng", Level: "B", Region: "cn-east",
		Fields: crm.Fields{"budget": crm.Number(decimal.RequireFromString("100")), "tier": crm.String("gold")}}
	next := old.Clone()
	next.Version, next.UpdatedAt = 4, at.Add(time.Hour)
	next.Level = "A"
	next.Region = ""
	next.Phone = "+8613800138000"
	next.Fields["budget"] = crm.Number(decimal.RequireFromString("250.5"))
	delete(next.Fields, "tier")
	changes, err := crm.Diff(old, next)
	require.NoError(t, err)
	var fields []string
	for _, c := range changes {
		fields = append(fields, c.Field)
	}
	require.Equal(t, []string{"fields.budget", "fields.tier", "level", "phone", "region"}, fields)
	require.JSONEq(t, `"B"`, string(changes[2].Old))
	require.JSONEq(t, `"A"`, string(changes[2].New))
	require.Nil(t, changes[3].Old, "the phone was unset")
	require.Nil(t, changes[4].New, "the region is unset now")

	same, err := crm.Diff(old, old.Clone())
	require.NoError(t, err)
	require.Empty(t, same)

	created, err := crm.Diff(nil, old)
	require.NoError(t, err)
	require.Len(t, created, 5, "name, level, region and two custom fields; unset fields are not changes")
}

func validEntry() *crm.HistoryEntry {
	return &crm.HistoryEntry{
		ID: crm.ID{1}, Record: crm.Ref{Type: crm.TypeCustomer, ID: crm.ID{2}},
		Change:    crm.Change{Field: "level", Old: json.RawMessage(`"B"`), New: json.RawMessage(`"A"`)},
		Operation: "update", At: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC),
	}
}

func TestHistoryEntryValidateNamesTheField(t *testing.T) {
	t.Parallel()
	require.NoError(t, validEntry().Validate())
	for _, c := range []struct {
		field string
		edit  func(h *crm.HistoryEntry)
	}{
		{"id", func(h *crm.HistoryEntry) { h.ID = crm.NilID }},
		{"record", func(h *crm.HistoryEntry) { h.Record.ID = crm.NilID }},
		{"record", func(h *crm.HistoryEntry) { h.Record.Type = "cust\x00omer" }},
		{"record", func(h *crm.HistoryEntry) { h.Record.Type = crm.RecordType(strings.Repeat("x", 65)) }},
		{"field", func(h *crm.HistoryEntry) { h.Field = "" }},
		{"field", func(h *crm.HistoryEntry) { h.Field = strings.Repeat("f", 201) }},
		{"field", func(h *crm.HistoryEntry) { h.Field = "le\xffvel" }},
		{"field", func(h *crm.HistoryEntry) { h.Field = "le\x00vel" }},
		{"new", func(h *crm.HistoryEntry) { h.Old, h.New = nil, nil }},
		{"old", func(h *crm.HistoryEntry) { h.Old = json.RawMessage(`{"a":`) }},
		{"new", func(h *crm.HistoryEntry) { h.New = json.RawMessage("\"\xff\"") }},
		{"new", func(h *crm.HistoryEntry) { h.New = make(json.RawMessage, crm.MaxHistoryValueBytes+1) }},
		{"operation", func(h *crm.HistoryEntry) { h.Operation = "" }},
		{"operation", func(h *crm.HistoryEntry) { h.Operation = "up\x00date" }},
		{"at", func(h *crm.HistoryEntry) { h.At = time.Time{} }},
	} {
		h := validEntry()
		c.edit(h)
		err := h.Validate()
		require.ErrorIs(t, err, crm.ErrInvalidArgument, "%s: %+v", c.field, h)
		var all crm.ValidationErrors
		require.True(t, errors.As(err, &all))
		require.Contains(t, all.Fields(), c.field, "%v", err)
	}
	h := validEntry()
	h.Old = nil
	require.NoError(t, h.Validate(), "a create has no old value")
	h = validEntry()
	h.New = nil
	require.NoError(t, h.Validate(), "a delete has no new value")
}

func TestResolveSeqContinuesBelowTheCursor(t *testing.T) {
	t.Parallel()
	limit, below, err := crm.PageRequest{}.ResolveSeq()
	require.NoError(t, err)
	require.Equal(t, crm.DefaultPageLimit, limit)
	require.Zero(t, below, "the first page")
	limit, below, err = crm.PageRequest{Limit: 3, Cursor: crm.SeqCursor(42)}.ResolveSeq()
	require.NoError(t, err)
	require.Equal(t, 3, limit)
	require.Equal(t, int64(42), below)
	for _, bad := range []crm.PageRequest{
		{Cursor: "!"}, {Cursor: crm.CursorAfter(crm.ID{1})}, {Cursor: crm.SeqCursor(0)}, {Cursor: crm.SeqCursor(-1)},
	} {
		_, _, err := bad.ResolveSeq()
		var ve *crm.ValidationError
		require.True(t, errors.As(err, &ve), "%+v", bad)
		require.Equal(t, "page.cursor", ve.Field)
	}
	for _, bad := range []int{-1, crm.MaxPageLimit + 1} {
		_, _, err := crm.PageRequest{Limit: bad}.ResolveSeq()
		var ve *crm.ValidationError
		require.True(t, errors.As(err, &ve))
		require.Equal(t, "page.limit", ve.Field)
	}
}
