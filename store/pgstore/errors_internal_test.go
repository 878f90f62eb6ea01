package pgstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
)

func TestDBErrorMapsToCrmSentinels(t *testing.T) {
	pg := func(code string) error { return fmt.Errorf("query: %w", &pgconn.PgError{Code: code, Message: "m"}) }
	cases := []struct {
		name string
		err  error
		want error // nil: the error is returned unchanged
	}{
		{"NoRowsIsNotFound", pgx.ErrNoRows, crm.ErrNotFound},
		{"UniqueViolationIsAlreadyExists", pg("23505"), crm.ErrAlreadyExists},
		{"SerializationFailureIsConflict", pg("40001"), crm.ErrConflict},
		{"DeadlockIsConflict", pg("40P01"), crm.ErrConflict},
		{"AdminShutdownIsUnavailable", pg("57P01"), crm.ErrUnavailable},
		{"CrashShutdownIsUnavailable", pg("57P02"), crm.ErrUnavailable},
		{"CannotConnectNowIsUnavailable", pg("57P03"), crm.ErrUnavailable},
		{"ConnectionExceptionIsUnavailable", pg("08006"), crm.ErrUnavailable},
		{"TooManyConnectionsIsUnavailable", pg("53300"), crm.ErrUnavailable},
		{"ClosedConnectionIsUnavailable", fmt.Errorf("x: %w", pgconn.ErrConnClosed), crm.ErrUnavailable},
		{"UnexpectedEOFIsUnavailable", io.ErrUnexpectedEOF, crm.ErrUnavailable},
		{"NetworkErrorIsUnavailable", &net.OpError{Op: "read", Err: errors.New("connection reset")}, crm.ErrUnavailable},
		{"ConnectErrorIsUnavailable", &pgconn.ConnectError{Config: &pgconn.Config{}}, crm.ErrUnavailable},
		{"SyntaxErrorIsUnchanged", pg("42601"), nil},
		{"OtherErrorIsUnchanged", errors.New("boom"), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := dbError(context.Background(), c.err)
			if c.want == nil {
				require.Equal(t, c.err, got)
				return
			}
			require.ErrorIs(t, got, c.want)
			require.ErrorIs(t, got, c.err, "the driver's error stays in the chain")
		})
	}
}

func TestDBErrorPrefersTheContextsError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got := dbError(ctx, io.ErrUnexpectedEOF)
	require.ErrorIs(t, got, context.Canceled)
	require.NotErrorIs(t, got, crm.ErrUnavailable)

	got = dbError(context.Background(), fmt.Errorf("acquire: %w", context.DeadlineExceeded))
	require.ErrorIs(t, got, context.DeadlineExceeded)
	require.Nil(t, dbError(ctx, nil))
}

func TestShouldRetryOnlySerialisationFailuresAndDeadlocks(t *testing.T) {
	require.True(t, shouldRetry(dbError(context.Background(), &pgconn.PgError{Code: "40001"})))
	require.True(t, shouldRetry(&pgconn.PgError{Code: "40P01"}))
	require.False(t, shouldRetry(&pgconn.PgError{Code: "23505"}))
	require.False(t, shouldRetry(crm.ErrConflict), "a stale version is not retried: the caller must re-read")
}

func TestOpErrorNamesTheOperation(t *testing.T) {
	id := crm.ID{1}
	err := opError(context.Background(), "get", "customer", id, pgx.ErrNoRows)
	require.ErrorIs(t, err, crm.ErrNotFound)
	require.Contains(t, err.Error(), "pgstore: get customer "+id.String()+": ")
}

func TestCeilMicroKeepsGoComparisons(t *testing.T) {
	stored := time.Date(2026, 1, 5, 9, 0, 0, 5000, time.UTC) // microsecond precision
	for _, ns := range []int{3000, 4000, 4001, 4999, 5000, 5001, 5999, 6000} {
		bound := time.Date(2026, 1, 5, 9, 0, 0, ns, time.UTC)
		c := ceilMicro(bound)
		require.Equal(t, stored.Before(bound), stored.Before(c), "ns=%d", ns)
		require.Zero(t, c.Nanosecond()%1000)
	}
}
