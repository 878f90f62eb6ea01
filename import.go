package crmkit

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/dedupe"
	"github.com/crmkit/crmkit/importer"
)

// OnDuplicate says what an import does with a new row (its external ID
// names no customer yet) that duplicates a stored customer, or a row
// imported earlier from the same file, under the entry policy
// ([Config.EntryPolicy]): the same strong key, or a score from its block
// score.
type OnDuplicate string

// What an import does with a duplicate row.
const (
	// DuplicateBlock refuses the row: outcome blocked, nothing written.
	DuplicateBlock OnDuplicate = "block"
	// DuplicateWarn creates the customer and reports the candidate:
	// outcome warned. A row whose strong key (a company's name and
	// region, a person's name and phone) a customer holds cannot be
	// stored twice and is blocked even so.
	DuplicateWarn OnDuplicate = "warn"
	// DuplicateAttach records the row's external ID on the stored
	// customer, leaving its values as they are: outcome attached.
	DuplicateAttach OnDuplicate = "attach"
	// DuplicateMerge stores the row as a customer and merges it into the
	// stored one with survivorship ([dedupe.Service.MergeTx]): outcome
	// merged, the external ID naming the survivor.
	DuplicateMerge OnDuplicate = "merge"
)

// ImportOutcome is what became of one imported row.
type ImportOutcome string

// Outcomes of an imported row.
const (
	// ImportCreated: a new customer was stored.
	ImportCreated ImportOutcome = "created"
	// ImportUpdated: the external ID named a customer whose values the row
	// changed; the update keeps history and events.
	ImportUpdated ImportOutcome = "updated"
	// ImportUnchanged: the external ID named a customer that already has
	// the row's values; nothing was written.
	ImportUnchanged ImportOutcome = "unchanged"
	// ImportAttached: the row duplicated a stored customer, which now
	// holds its external ID ([DuplicateAttach]).
	ImportAttached ImportOutcome = "attached"
	// ImportMerged: the row was merged into the stored customer it
	// duplicated ([DuplicateMerge]).
	ImportMerged ImportOutcome = "merged"
	// ImportBlocked: the row duplicated a stored customer and was refused.
	ImportBlocked ImportOutcome = "blocked"
	// ImportWarned: a new customer was stored although it may duplicate
	// the one the reason names ([DuplicateWarn]).
	ImportWarned ImportOutcome = "warned"
	// ImportInvalid: the row was refused for bad input; the reason names
	// the column.
	ImportInvalid ImportOutcome = "invalid"
	// ImportFailed: the row's batch failed as a whole (the store refused
	// it, or the context ended) and nothing of it was kept; importing the
	// file again continues from it.
	ImportFailed ImportOutcome = "failed"
)

// ImportRow is one row of an import.
type ImportRow struct {
	// Line is the row's line in the input, for the report.
	Line int
	// ExternalID is the row's ID in the source system. Required.
	ExternalID string
	// Values are the row's typed values by field: a field of
	// [importer.Fields] or "custom.<key>" ([importer.CheckField]). A
	// field present but empty clears the stored value.
	Values map[string]string
	// Problem, when set, is what the reader found wrong with the row
	// (a value over [importer.MaxValueBytes], NUL bytes): the row is
	// reported invalid with it and not imported.
	Problem string
}

// ImportRequest asks to import customers from one source system into the
// context's tenant.
type ImportRequest struct {
	// Source names the source system ("legacy_erp"); external IDs are
	// unique per source. Required, at most [importer.MaxSourceBytes].
	Source string
	// Rows yields the rows in input order; an error ends the import with
	// it, after the rows before it are imported. Required.
	Rows iter.Seq2[ImportRow, error]
	// OnDuplicate says what a new row that duplicates a customer does.
	// Required.
	OnDuplicate OnDuplicate
	// Actor is the user importing, for history and events; crm.NilID for
	// the system, which no permission policy is asked about.
	Actor crm.ID
	// BatchSize is how many rows one unit of work holds, 1 to
	// [MaxImportBatch]. Defaults to [DefaultImportBatch].
	BatchSize int
	// Region is the ISO 3166 country assumed for phones written without a
	// country code. Defaults to "CN".
	Region string
	// Columns names the input column of each field, so a reason names
	// the column the user knows ("column 电话"); a field without one is
	// named by its field name.
	Columns map[string]string
	// Report, when set, is called with each row's result in input order,
	// after its batch committed (or failed), from the goroutine that
	// called ImportCustomers; an error from it ends the import (the next
	// batch, already running, may commit unreported: importing again
	// reports its rows unchanged). Without it the results are collected in
	// [ImportSummary.Results].
	Report func(ImportResult) error
}

// Batch sizes of an import.
const (
	DefaultImportBatch = 500
	MaxImportBatch     = 10000
)

// ImportResult is what became of one row.
type ImportResult struct {
	// Line and ExternalID are the row's.
	Line       int
	ExternalID string
	// Outcome is what became of it.
	Outcome ImportOutcome
	// CustomerID is the customer the row ended up as (the created,
	// updated, unchanged, attached-to or surviving customer, or for a
	// blocked row the customer it duplicates); crm.NilID for an invalid
	// or failed row.
	CustomerID crm.ID
	// Reason names the column at fault, the duplicate, or what could not
	// be standardised; empty when there is nothing to say.
	Reason string
}

// ImportSummary counts the outcomes of an import.
type ImportSummary struct {
	// Rows is how many rows were read.
	Rows int
	// Counts counts the rows by outcome.
	Counts map[ImportOutcome]int
	// Results are the rows' results in input order, when the request had
	// no Report.
	Results []ImportResult
}

// importBatchAttempts is how often a batch is tried when a concurrent
// import of the same customers commits first.
const importBatchAttempts = 5

func (r *ImportRequest) validate() error {
	var p crm.Problems
	if err := importer.CheckSource(r.Source); err != nil {
		p.Merge(err)
	}
	if r.Rows == nil {
		p.Add("rows", "is required")
	}
	switch r.OnDuplicate {
	case DuplicateBlock, DuplicateWarn, DuplicateAttach, DuplicateMerge:
	default:
		p.Add("on_duplicate", "must be block, warn, attach or merge, got %q", clipText(string(r.OnDuplicate)))
	}
	if r.BatchSize < 0 || r.BatchSize > MaxImportBatch {
		p.Add("batch_size", "must be between 1 and %d, got %d", MaxImportBatch, r.BatchSize)
	}
	return p.Err()
}

// ImportCustomers imports customers into the context's tenant, upserting
// on each row's external ID of req.Source. A row whose external ID names a
// customer is unchanged when its values are those last imported for it
// (the mapping keeps their [importer.Digest]: nothing is read or written,
// and an edit made in the CRM since is kept), and so is a row whose
// standardised values the customer already has; otherwise the row
// updates the customer through [CRM.UpdateCustomerTx] (history and a
// customer.updated event follow). Importing a file again changes nothing.
// A new row is created through [CRM.CreateCustomerTx], checked against the
// stored match keys, which hold every customer stored before it, this
// file's earlier rows included; a duplicate is handled as
// req.OnDuplicate says. Values are standardised by [importer.Apply], which
// keeps what was typed beside them.
//
// Rows are imported in batches of req.BatchSize, each one unit of work:
// a batch is kept whole or not at all. A batch that a concurrent import of
// the same external IDs or customers beat to the commit is tried again, so
// two imports of one file end with one customer per external ID. A batch
// that fails otherwise ends the import: its rows are reported
// [ImportFailed] (and so are the next batch's, which waited for it) and
// the error is returned with the summary so far; importing the file again
// continues, importing no row twice.
//
// A batch's new rows are entered together ([dedupe.Service.EnterManyTx]).
// On an adapter with the bulk ports (pgstore) and without req.Actor, two
// batches overlap: one is decided and written while the one before it
// commits, counting that one's new customers as entered before its own.
// The outcomes are those of importing the batches one after the other;
// results are reported in input order. A batch opens its unit of work
// only once the one before it holds one, and lets go of it while that one
// is tried again, so even a pool of one connection serves both.
//
// The store needs the optional port [importer.Tx] (an error matching
// [crm.ErrUnsupported] otherwise); a bad request is a [*crm.ValidationError]
// naming the field. Rows are read a batch at a time, with at most two
// batches in flight: memory is bounded by the batch size and the set of
// external IDs seen, which is kept to report an external ID repeated in
// the input as invalid.
func (c *CRM) ImportCustomers(ctx context.Context, req ImportRequest) (*ImportSummary, error) {
	if err := req.validate(); err != nil {
		return nil, fmt.Errorf("crmkit: import customers: %w", err)
	}
	// Batches overlap (one commits while the next is decided and
	// written) when the adapter has the bulk key store and the system
	// imports: each batch counts the previous one's new customers as
	// entered before its own until that one commits. (An actor's view of
	// a duplicate is masked by reading it, which a customer not yet
	// committed would fail.)
	pipelined := false
	if err := c.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		if _, ok := crm.As[importer.Tx](tx); !ok {
			return fmt.Errorf("crmkit: import customers: storage adapter %T has no importer.Tx port: %w", tx, crm.ErrUnsupported)
		}
		if dt, err := dedupe.TxOf(tx); err == nil {
			_, bulk := dt.DedupeKeys().(dedupe.BulkKeyStore)
			pipelined = bulk && req.Actor == crm.NilID
		}
		return nil
	}); err != nil {
		return nil, err
	}
	size := req.BatchSize
	if size == 0 {
		size = DefaultImportBatch
	}
	im := &importRun{c: c, req: &req, seen: map[string]int{}, sum: &ImportSummary{Counts: map[ImportOutcome]int{}}, pipelined: pipelined}
	rows := make([]ImportRow, 0, size)
	for row, err := range req.Rows {
		if err != nil {
			if ferr := im.flush(ctx, rows); ferr != nil {
				return im.sum, ferr
			}
			if ferr := im.drain(); ferr != nil {
				return im.sum, ferr
			}
			return im.sum, fmt.Errorf("crmkit: import customers: %w", err)
		}
		rows = append(rows, row)
		if len(rows) == size {
			if err := im.flush(ctx, rows); err != nil {
				return im.sum, err
			}
			rows = make([]ImportRow, 0, size)
		}
	}
	if err := im.flush(ctx, rows); err != nil {
		return im.sum, err
	}
	if err := im.drain(); err != nil {
		return im.sum, err
	}
	return im.sum, nil
}

// importRun is one import in progress.
type importRun struct {
	c         *CRM
	req       *ImportRequest
	seen      map[string]int // external ID -> first line
	sum       *ImportSummary
	pipelined bool
	last      *importBatch // the batch in flight, not yet reported
}

// importBatch is one batch of an import: its rows, and the unit of work
// that imports them, which may run while the batch before it commits.
type importBatch struct {
	rows []ImportRow
	pre  []*ImportResult // problems found without the store
	prev *importBatch    // the batch in flight before it; nil if none

	// results and err are set when done is closed: the batch committed
	// or failed.
	results []ImportResult
	err     error
	done    chan struct{}

	// decided is closed once the batch's new rows are decided (or the
	// batch ended); entered are the customers its attempt number attempt
	// is entering, for the next batch to count as entered before its own.
	decided    chan struct{}
	decideOnce sync.Once
	// retrying is closed when the batch is tried again: the next batch
	// then lets go of its unit of work (and its connection) until this
	// one is done, so a pool of one connection cannot hold both waiting.
	retrying  chan struct{}
	retryOnce sync.Once
	// started is closed when the batch is inside its first unit of work,
	// holding a connection: the next batch opens its own only then.
	started   chan struct{}
	startOnce sync.Once
	mu        sync.Mutex
	entered   []*crm.Customer
	attempt   int
}

// markDecided records that attempt of b decided to enter entered (copies
// the next batch may read) and lets the next batch go on.
func (b *importBatch) markDecided(entered []*crm.Customer, attempt int) {
	b.mu.Lock()
	b.entered, b.attempt = entered, attempt
	b.mu.Unlock()
	b.decideOnce.Do(func() { close(b.decided) })
}

// errEarlierBatch fails a batch whose previous batch failed.
var errEarlierBatch = errors.New("the batch before it failed")

// errEarlierRetrying ends an attempt of a batch whose previous batch is
// being tried again; the batch is tried again once that one is done.
var errEarlierRetrying = errors.New("the batch before it is being tried again")

// waitFor waits for ch, in a unit of work of batch b: it gives up when
// the batch before b is tried again, or ctx ends.
func waitFor(ctx context.Context, b *importBatch, ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-b.prev.retrying:
		select {
		case <-ch:
			return nil
		default:
			return errEarlierRetrying
		}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// flush starts importing one batch. Pipelined, it runs while the batch
// before it finishes, which is then reported; otherwise it is imported
// and reported before flush returns.
func (im *importRun) flush(ctx context.Context, rows []ImportRow) error {
	if len(rows) == 0 {
		return nil
	}
	im.sum.Rows += len(rows)
	b := &importBatch{rows: rows, pre: make([]*ImportResult, len(rows)), done: make(chan struct{}), decided: make(chan struct{}), retrying: make(chan struct{}), started: make(chan struct{})}
	for i, r := range rows {
		b.pre[i] = im.precheck(r)
	}
	if !im.pipelined {
		im.run(ctx, b)
		return im.report(b)
	}
	prev := im.last
	b.prev, im.last = prev, b
	go im.run(ctx, b) // b.prev is b's own from here on
	if prev == nil {
		return nil
	}
	if err := im.report(prev); err != nil {
		// The import ends with b finished: when its predecessor failed, b
		// waited for it and failed too, and is reported; when the report
		// failed, b may have committed, unreported.
		im.last = nil
		<-b.done
		if prev.err != nil {
			_ = im.report(b)
		}
		return err
	}
	return nil
}

// drain reports the batch still in flight.
func (im *importRun) drain() error {
	if im.last == nil {
		return nil
	}
	b := im.last
	im.last = nil
	return im.report(b)
}

// run imports batch b in a unit of work of its own, trying again when a
// concurrent import of the same customers committed first, and closes
// b.done.
func (im *importRun) run(ctx context.Context, b *importBatch) {
	defer close(b.done)
	defer b.decideOnce.Do(func() { close(b.decided) })
	defer b.startOnce.Do(func() { close(b.started) })
	var results []ImportResult
	var err error
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			b.retryOnce.Do(func() { close(b.retrying) })
		}
		if p := b.prev; p != nil {
			// Wait outside a unit of work, holding no connection, for
			// the batch before to hold one, and when it is being tried
			// again for it to be done.
			select {
			case <-p.started:
			case <-ctx.Done():
			}
			select {
			case <-p.retrying:
				select {
				case <-p.done:
				case <-ctx.Done():
				}
			default:
			}
		}
		err = im.c.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) (err error) {
			results, err = im.batchTx(ctx, tx, b, attempt)
			return err
		})
		if errors.Is(err, errEarlierRetrying) && ctx.Err() == nil {
			attempt-- // not this batch's conflict
			continue
		}
		if err == nil || attempt == importBatchAttempts || ctx.Err() != nil || errors.Is(err, errEarlierBatch) ||
			!(errors.Is(err, crm.ErrAlreadyExists) || errors.Is(err, crm.ErrConflict)) {
			break
		}
	}
	if err != nil {
		rows := b.rows
		err = fmt.Errorf("crmkit: import customers: batch of lines %d-%d: %w", rows[0].Line, rows[len(rows)-1].Line, err)
		results = make([]ImportResult, len(rows))
		for i, r := range rows {
			results[i] = ImportResult{Line: r.Line, ExternalID: r.ExternalID, Outcome: ImportFailed, Reason: clipText(err.Error())}
			if b.pre[i] != nil {
				results[i] = *b.pre[i]
			}
		}
	}
	b.results, b.err = results, err
	// Nothing reads the batch before once this one is done: dropping it
	// keeps memory to the batches in flight, not the import's history.
	b.prev = nil
}

// report waits for b and reports its rows.
func (im *importRun) report(b *importBatch) error {
	<-b.done
	for _, res := range b.results {
		im.sum.Counts[res.Outcome]++
		if im.req.Report == nil {
			im.sum.Results = append(im.sum.Results, res)
			continue
		}
		if rerr := im.req.Report(res); rerr != nil {
			return fmt.Errorf("crmkit: import customers: report line %d: %w", res.Line, rerr)
		}
	}
	return b.err
}

// precheck returns the result of a row that is invalid whatever the store
// holds, else nil; it records the row's external ID as seen.
func (im *importRun) precheck(r ImportRow) *ImportResult {
	bad := func(format string, args ...any) *ImportResult {
		return &ImportResult{Line: r.Line, ExternalID: r.ExternalID, Outcome: ImportInvalid, Reason: clipText(fmt.Sprintf(format, args...))}
	}
	if r.Problem != "" {
		return bad("%s", r.Problem)
	}
	if err := importer.CheckExternalID(r.ExternalID); err != nil {
		var ve *crm.ValidationError
		errors.As(err, &ve)
		return bad("%s: external ID %s", im.column("external_id"), ve.Reason)
	}
	if first, ok := im.seen[r.ExternalID]; ok {
		return bad("%s: external ID %q repeats line %d", im.column("external_id"), clipText(r.ExternalID), first)
	}
	im.seen[r.ExternalID] = r.Line
	for f := range r.Values {
		if err := importer.CheckField(f, f); err != nil {
			return bad("%s", err.Error())
		}
	}
	return nil
}

// column names field's input column for a reason.
func (im *importRun) column(field string) string {
	if col, ok := im.req.Columns[field]; ok && col != "" {
		return fmt.Sprintf("column %q", clipText(col))
	}
	return "field " + field
}

// describe turns a validation error on a customer field into a reason
// naming the input column.
func (im *importRun) describe(err error) string {
	var es crm.ValidationErrors
	var one *crm.ValidationError
	switch {
	case errors.As(err, &es):
	case errors.As(err, &one):
		es = crm.ValidationErrors{one}
	default:
		return clipText(err.Error())
	}
	parts := make([]string, 0, len(es))
	for _, e := range es {
		field := e.Field
		if key, ok := strings.CutPrefix(field, "fields."); ok {
			field = importer.CustomPrefix + key
			if key == importer.ContactField {
				field = importer.FieldContact
			}
		}
		parts = append(parts, im.column(field)+": "+e.Reason)
	}
	return clipText(strings.Join(parts, "; "))
}

// batchTx imports batch b inside one unit of work. Rows whose external ID
// names a customer are applied one by one, in order; then the new rows
// are entered together ([dedupe.Service.EnterManyTx]: a few round trips
// for the whole batch on an adapter with the bulk ports), each checked
// against the stored customers and the new rows before it, and their
// external IDs recorded together.
//
// Pipelined, the batch before it may still be committing: its new
// customers, invisible here until then, count as entered before this
// batch's. Anything that could touch what it wrote (an update of a
// stored customer, a duplicate's attach or merge) and the commit wait for
// it to commit; when it failed, so does this batch, and when it committed
// other customers than the ones counted (it was tried again), this batch
// is tried again.
func (im *importRun) batchTx(ctx context.Context, tx crm.Tx, b *importBatch, attempt int) ([]ImportResult, error) {
	b.startOnce.Do(func() { close(b.started) })
	req, rows, pre := im.req, b.rows, b.pre
	ctx = crm.DefaultActor(ctx, req.Actor, "import")
	it, ok := crm.As[importer.Tx](tx)
	if !ok {
		return nil, fmt.Errorf("storage adapter %T has no importer.Tx port: %w", tx, crm.ErrUnsupported)
	}
	var pending []*crm.Customer
	counted := -1 // the attempt of the batch before whose customers are pending
	if p := b.prev; p != nil {
		if err := waitFor(ctx, b, p.decided); err != nil {
			return nil, err
		}
		select {
		case <-p.done:
			if p.err != nil {
				return nil, errEarlierBatch
			}
		default:
			p.mu.Lock()
			pending, counted = p.entered, p.attempt
			p.mu.Unlock()
		}
	}
	settled := b.prev == nil
	settle := func() error {
		if settled {
			return nil
		}
		p := b.prev
		if err := waitFor(ctx, b, p.done); err != nil {
			return err
		}
		switch {
		case p.err != nil:
			return errEarlierBatch
		case counted >= 0 && p.attempt != counted:
			return fmt.Errorf("the batch before it committed other customers than it counted: %w", crm.ErrConflict)
		}
		settled = true
		return nil
	}
	ext := it.ExternalIDs()
	ids := make([]string, 0, len(rows))
	for i, r := range rows {
		if pre[i] == nil {
			ids = append(ids, r.ExternalID)
		}
	}
	mapped, err := ext.Lookup(ctx, req.Source, ids)
	if err != nil {
		return nil, err
	}
	if len(mapped) > 0 {
		if err := settle(); err != nil {
			return nil, err
		}
	}
	out := make([]ImportResult, len(rows))
	var fresh []freshRow
	for i, r := range rows {
		if pre[i] != nil {
			out[i] = *pre[i]
			continue
		}
		res := &out[i]
		*res = ImportResult{Line: r.Line, ExternalID: r.ExternalID}
		digest := importer.Digest(r.Values, req.Region)
		if m, ok := mapped[r.ExternalID]; ok {
			if err := im.upsert(ctx, tx, ext, r, m, digest, res); err != nil {
				return nil, fmt.Errorf("line %d: %w", r.Line, err)
			}
			continue
		}
		cust := &crm.Customer{Meta: crm.Meta{ID: im.c.cfg.IDs.NewID()}}
		ns, err := importer.Apply(cust, r.Values, req.Region)
		if err == nil {
			cust.Normalise()
			err = cust.Validate()
		}
		if err != nil {
			res.Outcome, res.Reason = ImportInvalid, im.describe(err)
			continue
		}
		fresh = append(fresh, freshRow{at: i, cust: cust, digest: digest, notes: im.notes(ns)})
	}
	decided := func(entered []*crm.Customer) {
		copies := make([]*crm.Customer, len(entered))
		for i, c := range entered {
			copies[i] = c.Clone()
		}
		b.markDecided(copies, attempt)
	}
	if settled {
		pending = nil
	}
	if err := im.enter(ctx, tx, ext, rows, fresh, out, pending, decided, settle); err != nil {
		return nil, err
	}
	if err := settle(); err != nil {
		return nil, err
	}
	return out, nil
}

// freshRow is a row whose external ID names no customer yet: the
// customer it would create.
type freshRow struct {
	at     int // index in the batch
	cust   *crm.Customer
	digest string
	notes  string
}

// enter creates the customers of the fresh rows, handles the ones that
// duplicate a customer as the request says, and records the external IDs.
// pending, decided and settle are batchTx's: the customers of the batch
// before, the hook that lets the next batch go on, and the wait for the
// batch before to commit.
func (im *importRun) enter(ctx context.Context, tx crm.Tx, ext importer.ExternalIDs, rows []ImportRow, fresh []freshRow, out []ImportResult,
	pending []*crm.Customer, decided func([]*crm.Customer), settle func() error) error {
	if len(fresh) == 0 {
		decided(nil)
		return nil
	}
	c, req := im.c, im.req
	policy := c.seams.policy
	if req.OnDuplicate == DuplicateWarn {
		// Warn from where the entry policy would block.
		policy = dedupe.Policy{WarnScore: max(policy.BlockScore, policy.WarnScore)}
	}
	custs := make([]*crm.Customer, len(fresh))
	for j, f := range fresh {
		custs[j] = f.cust
	}
	outcomes, err := c.enterCustomersTx(ctx, tx, custs, req.Actor, policy, pending, decided)
	if err != nil {
		return err
	}
	var putIDs []string
	var puts []importer.Mapping
	var blocked []int // indexes into fresh
	for j, o := range outcomes {
		f := fresh[j]
		res := &out[f.at]
		if o.Blocked != nil {
			blocked = append(blocked, j)
			continue
		}
		res.CustomerID, res.Outcome, res.Reason = o.Entered.Customer.ID, ImportCreated, f.notes
		if len(o.Entered.Candidates) > 0 {
			res.Outcome, res.Reason = ImportWarned, joinReason(candidateReason(o.Entered.Candidates[0]), f.notes)
		}
		putIDs = append(putIDs, rows[f.at].ExternalID)
		puts = append(puts, importer.Mapping{CustomerID: o.Entered.Customer.ID, Digest: f.digest})
	}
	if err := importer.PutMany(ctx, ext, req.Source, putIDs, puts); err != nil {
		return err
	}
	if len(blocked) == 0 {
		return nil
	}
	// What a duplicate does may touch the customers the batch before
	// wrote (merging into one, say): they must be visible.
	if err := settle(); err != nil {
		return err
	}
	// A concurrent import of a blocked row's external ID may have
	// committed since the batch looked it up: then the row is its
	// customer's.
	again := make([]string, len(blocked))
	for k, j := range blocked {
		again[k] = rows[fresh[j].at].ExternalID
	}
	now, err := ext.Lookup(ctx, req.Source, again)
	if err != nil {
		return err
	}
	for _, j := range blocked {
		f := fresh[j]
		r, res := rows[f.at], &out[f.at]
		if m, ok := now[r.ExternalID]; ok {
			err = im.upsert(ctx, tx, ext, r, m, f.digest, res)
		} else {
			be := outcomes[j].Blocked
			err = im.duplicate(ctx, tx, ext, r, f.cust, be, importer.Mapping{CustomerID: be.Best.CustomerID, Digest: f.digest}, f.notes, res)
		}
		if err != nil {
			return fmt.Errorf("line %d: %w", r.Line, err)
		}
	}
	return nil
}

// notes turns standardising notes into a reason.
func (im *importRun) notes(ns []importer.Note) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = im.column(n.Field) + ": " + n.Text
	}
	return clipText(strings.Join(parts, "; "))
}

// upsert applies row r to the customer its external ID names: a row
// whose digest is the one last imported is unchanged without a read.
func (im *importRun) upsert(ctx context.Context, tx crm.Tx, ext importer.ExternalIDs, r ImportRow, m importer.Mapping, digest string, res *ImportResult) error {
	c := im.c
	if m.Digest == digest {
		res.Outcome, res.CustomerID = ImportUnchanged, m.CustomerID
		return nil
	}
	id := m.CustomerID
	stored, err := tx.Customers().Get(ctx, id)
	// A customer merged since it was imported lives on as its survivor.
	for hops := 0; err == nil && hops < 8; hops++ {
		next, merged := stored.MergedInto()
		if !merged {
			break
		}
		stored, err = tx.Customers().Get(ctx, next)
	}
	if err != nil {
		return fmt.Errorf("customer %s of external ID: %w", id, err)
	}
	res.CustomerID = stored.ID
	next := stored.Clone()
	ns, err := importer.Apply(next, r.Values, im.req.Region)
	if err == nil {
		err = next.Validate()
	}
	if err != nil {
		res.Outcome, res.Reason = ImportInvalid, im.describe(err)
		return nil
	}
	res.Reason = im.notes(ns)
	put := func() error {
		return ext.Put(ctx, im.req.Source, r.ExternalID, importer.Mapping{CustomerID: stored.ID, Digest: digest})
	}
	if importer.SameValues(stored, next) {
		res.Outcome = ImportUnchanged
		return put()
	}
	// New values whose strong key another customer holds cannot be
	// stored: the row is refused instead of failing the batch.
	action, cands, err := c.Dedupe.DecideTx(ctx, tx, next, c.seams.policy)
	if err != nil {
		return err
	}
	if action == dedupe.Block && len(cands) > 0 && cands[0].Strong {
		res.Outcome, res.Reason = ImportBlocked, "new values duplicate customer "+cands[0].CustomerID.String()+" (same strong key)"
		return nil
	}
	if _, err := c.UpdateCustomerTx(ctx, tx, UpdateCustomerRequest{Customer: next, Actor: im.req.Actor}); err != nil {
		var ve *crm.ValidationError
		if errors.As(err, &ve) {
			res.Outcome, res.Reason = ImportInvalid, im.describe(err)
			return nil
		}
		return err
	}
	res.Outcome = ImportUpdated
	return put()
}

// duplicate handles a new row the entry policy blocked as a duplicate of
// be.Existing. Nothing of the row was written.
func (im *importRun) duplicate(ctx context.Context, tx crm.Tx, ext importer.ExternalIDs, r ImportRow, cust *crm.Customer, be *dedupe.BlockedError, m importer.Mapping, notes string, res *ImportResult) error {
	existing := be.Best.CustomerID
	req := im.req
	why := candidateReason(be.Best)
	res.CustomerID = existing
	switch req.OnDuplicate {
	case DuplicateAttach:
		res.Outcome, res.Reason = ImportAttached, joinReason(why, notes)
		return ext.Put(ctx, req.Source, r.ExternalID, m)
	case DuplicateMerge:
		// The row is stored as it was typed, without match keys (its
		// strong key is the survivor's), and merged into the survivor:
		// the loser is kept, marked merged, so the merge can be undone.
		cust.CreatedBy = req.Actor
		if req.Actor != crm.NilID {
			u, err := tx.Users().Get(ctx, req.Actor)
			if err != nil {
				return fmt.Errorf("actor %s: %w", req.Actor, err)
			}
			cust.DepartmentID = u.DepartmentID
		}
		if err := tx.Customers().Create(ctx, cust); err != nil {
			return err
		}
		if _, err := im.c.Dedupe.MergeTx(ctx, tx, dedupe.MergeRequest{SurvivorID: existing, LoserIDs: []crm.ID{cust.ID}, ActorID: req.Actor}); err != nil {
			return err
		}
		res.Outcome, res.Reason = ImportMerged, joinReason(fmt.Sprintf("merged %s into it; %s", cust.ID, why), notes)
		return ext.Put(ctx, req.Source, r.ExternalID, m)
	}
	res.Outcome, res.Reason = ImportBlocked, joinReason(why, notes)
	return nil
}

// candidateReason says which customer a row duplicates and why.
func candidateReason(cd dedupe.Candidate) string {
	why := agreed(cd.Reasons)
	if cd.Strong {
		why = "same strong key; " + why
	}
	return clipText(fmt.Sprintf("duplicates customer %s (score %.1f: %s)", cd.CustomerID, cd.Score, why))
}

func joinReason(a, b string) string {
	if b == "" {
		return a
	}
	return clipText(a + "; " + b)
}

// clipText keeps reasons short: at most 300 bytes, never cutting a
// character.
func clipText(s string) string {
	const max = 300
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "..."
}
