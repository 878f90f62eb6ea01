package pgstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/crmkit/crmkit/crm"
)

// PostgreSQL error codes pgstore gives a meaning to.
const (
	codeUniqueViolation      = "23505"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeAdminShutdown        = "57P01"
	codeCrashShutdown        = "57P02"
	codeCannotConnectNow     = "57P03"
	codeTooManyConnections   = "53300"
	codeQueryCanceled        = "57014"
)

// queryCanceled reports an error of a statement the server stopped on a
// cancel request; its transaction did not commit.
func queryCanceled(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == codeQueryCanceled
}

// dbError translates an error from pgx into crmkit's vocabulary. It is the
// only place that reads PostgreSQL error codes; the original error stays in
// the chain (errors.As finds the *pgconn.PgError) next to the crm sentinel.
//
//   - already decided by [commitError]: unchanged
//   - the context ended: the context's error (the driver error that it
//     caused is only described)
//   - pgx.ErrNoRows: [crm.ErrNotFound]
//   - unique_violation: [crm.ErrAlreadyExists]
//   - serialization_failure, deadlock_detected: [crm.ErrConflict] (InTx
//     retries these first)
//   - the server or the connection went away: [crm.ErrUnavailable]
//   - anything else: unchanged
func dbError(ctx context.Context, err error) error {
	if err == nil || errors.Is(err, crm.ErrOutcomeUnknown) {
		return err
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		if errors.Is(err, ctxErr) {
			return err
		}
		return fmt.Errorf("%w (%v)", ctxErr, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: %w", crm.ErrNotFound, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == codeUniqueViolation:
			return fmt.Errorf("%w: %w", crm.ErrAlreadyExists, err)
		case retryable(pgErr):
			return fmt.Errorf("%w: %w", crm.ErrConflict, err)
		case strings.HasPrefix(pgErr.Code, "08"), // connection_exception
			pgErr.Code == codeAdminShutdown, pgErr.Code == codeCrashShutdown,
			pgErr.Code == codeCannotConnectNow, pgErr.Code == codeTooManyConnections:
			return fmt.Errorf("%w: %w", crm.ErrUnavailable, err)
		}
		return err
	}
	if connectionLost(err) {
		return fmt.Errorf("%w: %w", crm.ErrUnavailable, err)
	}
	return err
}

// connectionLost reports errors that mean the server could not be reached or
// the connection broke, as opposed to the server refusing a statement.
func connectionLost(err error) bool {
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		pgconn.SafeToRetry(err)
}

// retryable reports a transaction the server aborted only because of
// concurrent transactions; running it again may succeed.
func retryable(pgErr *pgconn.PgError) bool {
	return pgErr.Code == codeSerializationFailure || pgErr.Code == codeDeadlockDetected
}

// shouldRetry reports whether err, returned by a unit of work, comes from a
// serialisation failure or deadlock.
func shouldRetry(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && retryable(pgErr)
}

// opError wraps err as "pgstore: <op> <type> <id>: err" after translating it.
func opError(ctx context.Context, op, typ string, id crm.ID, err error) error {
	return fmt.Errorf("pgstore: %s %s %s: %w", op, typ, id, dbError(ctx, err))
}

// commitError translates the error of a COMMIT (or of a statement that
// commits by itself) that was sent with a context that cannot end before
// commitTimeout. The server answering with an error, or the statement
// never leaving the client, means nothing was stored: dbError. Anything
// else means the answer was lost and the server may have committed:
// [crm.ErrOutcomeUnknown], matching neither a context error nor
// [crm.ErrUnavailable] (whose operations did not take effect).
// sentWrite reports the outcome of a write statement that commits on its
// own (autocommit, outside any unit of work): when the caller's context
// ended while the statement was with the server, the server may have
// committed it, so the answer is [crm.ErrOutcomeUnknown], not the
// context's error. A statement that never left (pgconn.SafeToRetry) or that
// the server refused (a PostgreSQL error, including a cancelled query) took
// no effect.
func sentWrite(ctx context.Context, autocommit bool, err error) error {
	if err == nil || !autocommit || ctx.Err() == nil || errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) || pgconn.SafeToRetry(err) {
		return err
	}
	return fmt.Errorf("%w (%v)", crm.ErrOutcomeUnknown, err)
}

func commitError(ctx context.Context, err error) error {
	var pgErr *pgconn.PgError
	if err == nil || errors.As(err, &pgErr) || errors.Is(err, pgx.ErrTxCommitRollback) || pgconn.SafeToRetry(err) {
		return dbError(ctx, err)
	}
	return fmt.Errorf("%w (%v)", crm.ErrOutcomeUnknown, err)
}
