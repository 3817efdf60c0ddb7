package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ErrUserExists reports a user name that is already taken.
var ErrUserExists = errors.New("user exists")

// User roles as the users table stores them.
const (
	RoleAdmin      = "admin"
	RoleAnalyst    = "analyst"
	RoleDepartment = "department"
)

// MaxUserNameLen bounds user names (in characters).
const MaxUserNameLen = 64

// User is a console user. Department and DepartmentID are set for RoleDepartment only.
type User struct {
	ID                int64
	Name              string
	Role              string
	DepartmentID      int64
	Department        string
	PasswordHash      string
	CreatedAt         time.Time
	PasswordChangedAt time.Time
	DisabledAt        *time.Time
}

// Session is a console session; the token itself is never stored, only its SHA-256.
type Session struct {
	TokenHash []byte
	UserID    int64
	UserName  string // filled by SessionByHash
	CSRF      string
	CreatedAt time.Time
	LastSeen  time.Time
	ExpiresAt time.Time
}

// CheckUserName reports what is wrong with a user name: empty, too long, not UTF-8, or holding spaces or
// control characters.
func CheckUserName(name string) error {
	switch {
	case name == "":
		return errors.New("user name is empty")
	case !utf8.ValidString(name):
		return errors.New("user name is not valid UTF-8")
	case utf8.RuneCountInString(name) > MaxUserNameLen:
		return fmt.Errorf("user name is longer than %d characters", MaxUserNameLen)
	case strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return fmt.Errorf("user name %q holds a space or control character", name)
	}
	return nil
}

// CreateUser adds a user. role is RoleAdmin, RoleAnalyst or RoleDepartment; department names an existing
// department and is required for RoleDepartment and refused for the others. It fails with ErrUserExists for a
// taken name and ErrNotFound for an unknown department.
func (s *Store) CreateUser(ctx context.Context, name, role, department, passwordHash string) (User, error) {
	if err := CheckUserName(name); err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	switch role {
	case RoleAdmin, RoleAnalyst:
		if department != "" {
			return User{}, fmt.Errorf("create user %q: role %s has no department", name, role)
		}
	case RoleDepartment:
		if department == "" {
			return User{}, fmt.Errorf("create user %q: role department needs a department", name)
		}
	default:
		return User{}, fmt.Errorf("create user %q: unknown role %q", name, role)
	}
	if passwordHash == "" {
		return User{}, fmt.Errorf("create user %q: empty password hash", name)
	}
	now := s.clock()
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	var deptID sql.NullInt64
	if role == RoleDepartment {
		err := tx.QueryRowContext(ctx, `SELECT id FROM departments WHERE name = ?`, department).Scan(&deptID)
		if errors.Is(err, sql.ErrNoRows) {
			return User{}, fmt.Errorf("create user %q: department %q: %w", name, department, ErrNotFound)
		}
		if err != nil {
			return User{}, fmt.Errorf("create user %q: department: %w", name, err)
		}
	}
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO users (name, role, department_id, password_hash, created_at, password_changed_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING RETURNING id`,
		name, role, deptID, passwordHash, now.UnixMilli(), now.UnixMilli()).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("create user %q: %w", name, ErrUserExists)
	}
	if err != nil {
		return User{}, fmt.Errorf("create user %q: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return User{}, fmt.Errorf("create user %q: commit: %w", name, err)
	}
	s.log.Info("user created", "user", name, "role", role, "department", department)
	t := time.UnixMilli(now.UnixMilli())
	u := User{ID: id, Name: name, Role: role, PasswordHash: passwordHash, CreatedAt: t, PasswordChangedAt: t}
	if deptID.Valid {
		u.DepartmentID, u.Department = deptID.Int64, department
	}
	return u, nil
}

const userSelect = `SELECT u.id, u.name, u.role, COALESCE(u.department_id, 0), COALESCE(d.name, ''), u.password_hash,
	u.created_at, u.password_changed_at, u.disabled_at
	FROM users u LEFT JOIN departments d ON d.id = u.department_id`

func scanUser(sc interface{ Scan(...any) error }) (User, error) {
	var u User
	var created, changed int64
	var disabled sql.NullInt64
	if err := sc.Scan(&u.ID, &u.Name, &u.Role, &u.DepartmentID, &u.Department, &u.PasswordHash, &created, &changed,
		&disabled); err != nil {
		return User{}, err
	}
	u.CreatedAt, u.PasswordChangedAt, u.DisabledAt = time.UnixMilli(created), time.UnixMilli(changed), nullTime(disabled)
	return u, nil
}

// UserByName returns the user name (disabled ones too), or ErrNotFound.
func (s *Store) UserByName(ctx context.Context, name string) (User, error) {
	u, err := scanUser(s.rdb.QueryRowContext(ctx, userSelect+` WHERE u.name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("user %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("user %q: %w", name, err)
	}
	return u, nil
}

// Users returns every user, disabled ones included, by name.
func (s *Store) Users(ctx context.Context) ([]User, error) {
	rows, err := s.rdb.QueryContext(ctx, userSelect+` ORDER BY u.name`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}

// CountUsers returns how many users exist (disabled ones included).
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// updateUser runs set (an UPDATE of users by name) and deletes the user's sessions in one transaction.
func (s *Store) updateUser(ctx context.Context, what, name, set string, args ...any) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s %q: %w", what, name, err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	var id int64
	err = tx.QueryRowContext(ctx, `UPDATE users SET `+set+` WHERE name = ? RETURNING id`, append(args, name)...).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s %q: %w", what, name, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("%s %q: %w", what, name, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, id); err != nil {
		return fmt.Errorf("%s %q: end sessions: %w", what, name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s %q: commit: %w", what, name, err)
	}
	s.log.Info("user updated", "user", name, "change", what)
	return nil
}

// SetPassword replaces a user's password hash and ends all of the user's sessions; ErrNotFound for an
// unknown name.
func (s *Store) SetPassword(ctx context.Context, name, passwordHash string) error {
	if passwordHash == "" {
		return fmt.Errorf("set password %q: empty password hash", name)
	}
	return s.updateUser(ctx, "set password", name, `password_hash = ?, password_changed_at = ?`,
		passwordHash, s.clock().UnixMilli())
}

// DisableUser disables a user (keeping the first disable time) and ends all of the user's sessions;
// ErrNotFound for an unknown name.
func (s *Store) DisableUser(ctx context.Context, name string) error {
	return s.updateUser(ctx, "disable user", name, `disabled_at = COALESCE(disabled_at, ?)`, s.clock().UnixMilli())
}

// CreateSession stores a session of the user userName; ErrNotFound for an unknown or disabled user.
func (s *Store) CreateSession(ctx context.Context, userName string, sess Session) error {
	if len(sess.TokenHash) == 0 || sess.CSRF == "" {
		return fmt.Errorf("create session: empty token hash or csrf token")
	}
	res, err := s.wdb.ExecContext(ctx, `INSERT INTO sessions (token_hash, user_id, csrf, created_at, last_seen, expires_at)
		SELECT ?, id, ?, ?, ?, ? FROM users WHERE name = ? AND disabled_at IS NULL`,
		sess.TokenHash, sess.CSRF, sess.CreatedAt.UnixMilli(), sess.LastSeen.UnixMilli(), sess.ExpiresAt.UnixMilli(), userName)
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("create session: user %q: %w", userName, ErrNotFound)
	}
	return nil
}

// SessionByHash returns the session stored under tokenHash with its user's name, or ErrNotFound. It does not
// judge expiry: the caller compares ExpiresAt with its clock.
func (s *Store) SessionByHash(ctx context.Context, tokenHash []byte) (Session, error) {
	var sess Session
	var created, seen, expires int64
	err := s.rdb.QueryRowContext(ctx, `SELECT s.token_hash, s.user_id, u.name, s.csrf, s.created_at, s.last_seen, s.expires_at
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?`, tokenHash).
		Scan(&sess.TokenHash, &sess.UserID, &sess.UserName, &sess.CSRF, &created, &seen, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, fmt.Errorf("session: %w", ErrNotFound)
	}
	if err != nil {
		return Session{}, fmt.Errorf("session: %w", err)
	}
	sess.CreatedAt, sess.LastSeen, sess.ExpiresAt = time.UnixMilli(created), time.UnixMilli(seen), time.UnixMilli(expires)
	return sess, nil
}

// TouchSession records a use of a session and its new expiry (nothing when the session is gone).
func (s *Store) TouchSession(ctx context.Context, tokenHash []byte, lastSeen, expiresAt time.Time) error {
	if _, err := s.wdb.ExecContext(ctx, `UPDATE sessions SET last_seen = ?, expires_at = ? WHERE token_hash = ?`,
		lastSeen.UnixMilli(), expiresAt.UnixMilli(), tokenHash); err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// DeleteSession removes a session (nothing when it is gone).
func (s *Store) DeleteSession(ctx context.Context, tokenHash []byte) error {
	if _, err := s.wdb.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes the sessions whose expiry is not after now and returns how many.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.wdb.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, now.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// CountSessions returns how many sessions are stored (for tests and the users list).
func (s *Store) CountSessions(ctx context.Context) (int, error) {
	var n int
	if err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM sessions`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count sessions: %w", err)
	}
	return n, nil
}
