// Package auth holds the server's identities: roles, users, bcrypt passwords, sessions, login throttling and
// the store seams they persist through.
package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Role is what a caller may do. Every route of the server lists the roles it admits.
type Role string

// Roles. RoleAgent is held by agents (bearer token); the others by console and API users: admin (the bureau,
// everything), analyst (the bureau, read everything), department (a department's data officer: only that
// department's systems and hosts).
const (
	RoleAgent      Role = "agent"
	RoleAdmin      Role = "admin"
	RoleAnalyst    Role = "analyst"
	RoleDepartment Role = "department"
)

// UserRoles are the roles a user (as opposed to an agent) may hold.
var UserRoles = []Role{RoleAdmin, RoleAnalyst, RoleDepartment}

// ParseRole returns the user role named s.
func ParseRole(s string) (Role, error) {
	for _, r := range UserRoles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q (want admin, analyst or department)", s)
}

// User is a person who may sign in.
type User struct {
	Name string
	Role Role
	// DepartmentID and Department are the department of a RoleDepartment user (zero for the other roles).
	DepartmentID int64
	Department   string
	// Disabled users cannot sign in and their sessions end.
	Disabled bool
	// PasswordChangedAt is when the password was last set; sessions created before it end.
	PasswordChangedAt time.Time
}

// Errors of authentication; check them with errors.Is.
var (
	// ErrBadCredentials reports an unknown user or a wrong password (deliberately not telling which).
	ErrBadCredentials = errors.New("bad credentials")
	// ErrNoUser is what a UserStore returns (wrapped) for an unknown name.
	ErrNoUser = errors.New("no such user")
	// ErrUserExists is what a UserStore returns (wrapped) when creating a name that exists.
	ErrUserExists = errors.New("user exists")
	// ErrNoDepartment is what a UserStore returns (wrapped) when a department user names an unknown department.
	ErrNoDepartment = errors.New("no such department")
)

// UserStore persists users. The server's store implements it; MemoryUserStore is for tests.
type UserStore interface {
	// CreateUser adds u (Name, Role and, for RoleDepartment, the Department name, which must exist); it fails
	// with ErrUserExists when the name is taken and ErrNoDepartment for an unknown department.
	CreateUser(ctx context.Context, u User, passwordHash string) error
	// UserByName returns the user (disabled ones too) and its password hash, or an error wrapping ErrNoUser.
	UserByName(ctx context.Context, name string) (User, string, error)
	// CountUsers returns how many users exist.
	CountUsers(ctx context.Context) (int, error)
}

// DefaultCost is the bcrypt cost of new password hashes.
const DefaultCost = bcrypt.DefaultCost

// HashPassword returns the bcrypt hash of password at the given cost (DefaultCost when 0).
func HashPassword(password string, cost int) (string, error) {
	if cost == 0 {
		cost = DefaultCost
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// CheckPassword reports whether password matches the bcrypt hash.
func CheckPassword(hash, password string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

const passwordAlphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789" // no 0/O, 1/l/I

// GeneratePassword returns a random password of n characters (20 when n is 0) from an unambiguous alphabet.
func GeneratePassword(n int) (string, error) {
	if n == 0 {
		n = 20
	}
	out := make([]byte, n)
	max := big.NewInt(int64(len(passwordAlphabet)))
	for i := range out {
		k, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("generate password: %w", err)
		}
		out[i] = passwordAlphabet[k.Int64()]
	}
	return string(out), nil
}

// AdminName is the user created on first start.
const AdminName = "admin"

// EnsureAdmin creates the user "admin" with a random password when the store has no user yet, and returns
// that password (to be shown once, never logged) and true. With users present it returns "", false.
func EnsureAdmin(ctx context.Context, us UserStore) (string, bool, error) {
	n, err := us.CountUsers(ctx)
	if err != nil {
		return "", false, fmt.Errorf("count users: %w", err)
	}
	if n > 0 {
		return "", false, nil
	}
	pw, err := GeneratePassword(0)
	if err != nil {
		return "", false, err
	}
	hash, err := HashPassword(pw, 0)
	if err != nil {
		return "", false, err
	}
	if err := us.CreateUser(ctx, User{Name: AdminName, Role: RoleAdmin}, hash); err != nil {
		return "", false, fmt.Errorf("create admin: %w", err)
	}
	return pw, true, nil
}

// Authenticator checks user names and passwords against a UserStore.
type Authenticator struct {
	users UserStore
	dummy string // hash compared for unknown names so they take as long as known ones
}

// NewAuthenticator returns an Authenticator over us.
func NewAuthenticator(us UserStore) *Authenticator {
	dummy, _ := bcrypt.GenerateFromPassword([]byte("zhizhi-dummy"), DefaultCost)
	return &Authenticator{users: us, dummy: string(dummy)}
}

// Authenticate returns the user when password is right, an error wrapping ErrBadCredentials when the name is
// unknown, the user disabled or the password wrong (each costing one bcrypt comparison, so that timing does
// not tell them apart), and any other error when the store fails.
func (a *Authenticator) Authenticate(ctx context.Context, name, password string) (User, error) {
	u, hash, err := a.users.UserByName(ctx, name)
	if errors.Is(err, ErrNoUser) {
		CheckPassword(a.dummy, password)
		return User{}, ErrBadCredentials
	}
	if err != nil {
		return User{}, fmt.Errorf("look up user: %w", err)
	}
	if !CheckPassword(hash, password) || u.Disabled {
		return User{}, ErrBadCredentials
	}
	return u, nil
}

// User returns the current record of the user name (disabled ones too), or an error wrapping ErrNoUser.
func (a *Authenticator) User(ctx context.Context, name string) (User, error) {
	u, _, err := a.users.UserByName(ctx, name)
	if err != nil {
		return User{}, fmt.Errorf("look up user: %w", err)
	}
	return u, nil
}

// MemoryUserStore is a UserStore in memory, for tests and tools. The zero value is ready to use.
type MemoryUserStore struct {
	// Departments maps the department names a RoleDepartment user may name to their ids; set it before use.
	Departments map[string]int64
	// Clock stamps PasswordChangedAt; nil means time.Now.
	Clock func() time.Time

	mu    sync.Mutex
	users map[string]memUser
}

type memUser struct {
	user User
	hash string
}

func (m *MemoryUserStore) now() time.Time {
	if m.Clock != nil {
		return m.Clock()
	}
	return time.Now()
}

// CreateUser implements UserStore.
func (m *MemoryUserStore) CreateUser(_ context.Context, u User, passwordHash string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[u.Name]; ok {
		return fmt.Errorf("create %q: %w", u.Name, ErrUserExists)
	}
	u.DepartmentID = 0
	if u.Role == RoleDepartment {
		id, ok := m.Departments[u.Department]
		if !ok {
			return fmt.Errorf("create %q: department %q: %w", u.Name, u.Department, ErrNoDepartment)
		}
		u.DepartmentID = id
	} else {
		u.Department = ""
	}
	if m.users == nil {
		m.users = map[string]memUser{}
	}
	u.Disabled, u.PasswordChangedAt = false, m.now()
	m.users[u.Name] = memUser{u, passwordHash}
	return nil
}

// UserByName implements UserStore.
func (m *MemoryUserStore) UserByName(_ context.Context, name string) (User, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[name]
	if !ok {
		return User{}, "", fmt.Errorf("user %q: %w", name, ErrNoUser)
	}
	return u.user, u.hash, nil
}

// CountUsers implements UserStore.
func (m *MemoryUserStore) CountUsers(context.Context) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.users), nil
}

// SetPassword replaces the password hash of name and stamps PasswordChangedAt.
func (m *MemoryUserStore) SetPassword(_ context.Context, name, passwordHash string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[name]
	if !ok {
		return fmt.Errorf("user %q: %w", name, ErrNoUser)
	}
	u.hash, u.user.PasswordChangedAt = passwordHash, m.now()
	m.users[name] = u
	return nil
}

// Disable disables the user name.
func (m *MemoryUserStore) Disable(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[name]
	if !ok {
		return fmt.Errorf("user %q: %w", name, ErrNoUser)
	}
	u.user.Disabled = true
	m.users[name] = u
	return nil
}

// NormalizeName trims a user name as typed into a login form or a command line.
func NormalizeName(name string) string { return strings.TrimSpace(name) }
