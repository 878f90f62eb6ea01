package pgstore_test

import (
	"context"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/store/pgstore"
)

// Example connects, migrates the "crm" schema and creates a customer and its
// event in one unit of work. It needs a database, so it is compiled but not
// run by go test; TestInTx runs the same steps against a test database.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		panic(err)
	}
	defer pool.Close()

	store, err := pgstore.New(pool, &pgstore.Config{Schema: "crm"})
	if err != nil {
		panic(err)
	}
	if err := store.Migrate(ctx); err != nil {
		panic(err)
	}

	ids := crm.UUIDv7{}
	customer := &crm.Customer{Meta: crm.Meta{ID: ids.NewID()}, Name: "北京华腾科技有限公司"}
	err = store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		if err := tx.Customers().Create(ctx, customer); err != nil {
			return err
		}
		ev, err := crm.NewEvent(ids, crm.SystemClock{}, crm.EventCustomerCreated,
			crm.Ref{Type: crm.TypeCustomer, ID: customer.ID}, crm.NilID, nil)
		if err != nil {
			return err
		}
		return tx.Events().Append(ctx, &ev)
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("created", customer.Name, "version", customer.Version)
}

// ExampleMigrations lists the migrations embedded in the package.
func ExampleMigrations() {
	migs, err := pgstore.Migrations()
	if err != nil {
		panic(err)
	}
	for _, m := range migs {
		fmt.Printf("%04d %s\n", m.Version, m.Name)
	}
	// Output:
	// 0001 init
	// 0002 pool
	// 0003 workflow
	// 0004 lead
	// 0005 workflow_deadlines
	// 0006 dedupe
	// 0007 workflow_handoffs
	// 0008 ownership_indexes
	// 0009 pool_request_age
	// 0010 department_tree_versions
	// 0011 condition_language
	// 0012 outbox_deliveries
	// 0013 history
	// 0014 ledger_events
	// 0015 ticket_lifecycle
	// 0016 tasks
	// 0017 reminders
	// 0018 work_queues
	// 0019 pool_notices
	// 0020 approval_inbox
	// 0021 ticket_sla_queue
	// 0022 lead_grade_rises
	// 0023 record_timelines
	// 0024 pipelines
	// 0025 segments
	// 0026 imports
	// 0027 rfm_speed
}

// ExampleNew shows that the schema name is validated before any I/O.
func ExampleNew() {
	_, err := pgstore.New(&pgxpool.Pool{}, &pgstore.Config{Schema: "crm; DROP TABLE x"})
	fmt.Println(err)
	// Output:
	// invalid schema: must be 1-63 lower-case letters, digits or underscores, starting with a letter or underscore, got "crm; DROP TABLE x"
}
