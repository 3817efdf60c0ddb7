package auth

import (
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestHashAndCheck(t *testing.T) {
	h, err := HashPassword("s3cret 密码", bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$2a$04$") {
		t.Fatalf("hash %q is not bcrypt at cost 4", h)
	}
	if !CheckPassword(h, "s3cret 密码") {
		t.Error("right password rejected")
	}
	if CheckPassword(h, "s3cret") || CheckPassword("not a hash", "s3cret 密码") {
		t.Error("wrong password or bad hash accepted")
	}
}

func TestGeneratePassword(t *testing.T) {
	a, err := GeneratePassword(0)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := GeneratePassword(0)
	if len(a) != 20 || a == b {
		t.Fatalf("passwords %q %q: want 20 random characters", a, b)
	}
	for _, c := range a {
		if !strings.ContainsRune(passwordAlphabet, c) {
			t.Fatalf("%q has %q outside the alphabet", a, c)
		}
	}
}

func TestEnsureAdminAndAuthenticate(t *testing.T) {
	ctx := context.Background()
	us := &MemoryUserStore{}
	pw, created, err := EnsureAdmin(ctx, us)
	if err != nil || !created || pw == "" {
		t.Fatalf("first EnsureAdmin: %q %v %v", pw, created, err)
	}
	again, created, err := EnsureAdmin(ctx, us)
	if err != nil || created || again != "" {
		t.Fatalf("second EnsureAdmin must do nothing: %q %v %v", again, created, err)
	}
	a := NewAuthenticator(us)
	u, err := a.Authenticate(ctx, "admin", pw)
	if err != nil || u.Name != "admin" || u.Role != RoleAdmin || u.DepartmentID != 0 {
		t.Fatalf("admin login: %+v %v", u, err)
	}
	if _, err := a.Authenticate(ctx, "admin", pw+"x"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := a.Authenticate(ctx, "nobody", pw); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("unknown user: %v", err)
	}
	if err := us.CreateUser(ctx, User{Name: "admin", Role: RoleAnalyst}, "x"); !errors.Is(err, ErrUserExists) {
		t.Errorf("duplicate user: %v", err)
	}
}

type failingStore struct{ *MemoryUserStore }

func (failingStore) UserByName(context.Context, string) (User, string, error) {
	return User{}, "", errors.New("disk on fire")
}

func TestAuthenticateStoreFailure(t *testing.T) {
	_, err := NewAuthenticator(failingStore{&MemoryUserStore{}}).Authenticate(context.Background(), "admin", "x")
	if err == nil || errors.Is(err, ErrBadCredentials) {
		t.Fatalf("store failure reported as %v; want a distinct error", err)
	}
}

func TestParseRole(t *testing.T) {
	if r, err := ParseRole("analyst"); err != nil || r != RoleAnalyst {
		t.Fatalf("analyst: %v %v", r, err)
	}
	if r, err := ParseRole("department"); err != nil || r != RoleDepartment {
		t.Fatalf("department: %v %v", r, err)
	}
	if _, err := ParseRole("agent"); err == nil {
		t.Fatal("agent is not a user role")
	}
}
