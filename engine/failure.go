package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// Transient reports whether retrying may cure err: PostgreSQL unreachable,
// restarting, overloaded or out of resources (SQLSTATE classes 08, 40, 53,
// 57, 58 and lock timeouts), a network error, a deadline or a cancellation,
// or an error that says so itself (a Transient() or Temporary() method
// returning true). Everything else — data exceptions (22), integrity
// violations (23), program limits (54), decoding errors, panics — is
// permanent: the same input fails the same way again, so the event that
// caused it is quarantined rather than retried.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	var panicErr *PanicError
	if errors.As(err, &panicErr) {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return transientSQLState(pgErr.Code)
	}
	var t interface{ Transient() bool }
	if errors.As(err, &t) {
		return t.Transient()
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	if pgconn.Timeout(err) || pgconn.SafeToRetry(err) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var tmp interface{ Temporary() bool }
	if errors.As(err, &tmp) {
		return tmp.Temporary()
	}
	return false
}

// transientSQLState says whether a PostgreSQL error code is worth retrying.
func transientSQLState(code string) bool {
	if len(code) != 5 {
		return false
	}
	switch code[:2] {
	case "08", // connection exception
		"40", // transaction rollback: serialization failure, deadlock
		"53", // insufficient resources
		"57", // operator intervention: shutdown, query canceled
		"58": // system error (I/O)
		return true
	}
	return code == "55P03" // lock_not_available
}

// PanicError is a panic recovered while applying a change: permanent.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// protect runs fn, turning a panic into a *PanicError.
func protect(fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return fn()
}
