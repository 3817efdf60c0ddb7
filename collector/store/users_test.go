package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestUsers(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)}
	s, path := openTest(t, Options{Clock: clk.Now})
	enroll(t, s, "低保审批", "民政局")

	if n, err := s.CountUsers(ctx); err != nil || n != 0 {
		t.Fatalf("count on a new store: %d %v", n, err)
	}
	admin, err := s.CreateUser(ctx, "admin", RoleAdmin, "", "$2a$10$hashA")
	if err != nil || admin.ID == 0 || !admin.CreatedAt.Equal(clk.Now()) {
		t.Fatalf("create admin: %+v %v", admin, err)
	}
	dora, err := s.CreateUser(ctx, "dora", RoleDepartment, "民政局", "$2a$10$hashD")
	if err != nil || dora.DepartmentID == 0 || dora.Department != "民政局" {
		t.Fatalf("create department user: %+v %v", dora, err)
	}
	for _, c := range []struct {
		name, role, dept string
		want             string
		is               error
	}{
		{"admin", RoleAnalyst, "", "", ErrUserExists},
		{"x", RoleDepartment, "", "needs a department", nil},
		{"x", RoleDepartment, "公安局", `department "公安局"`, ErrNotFound},
		{"x", RoleAnalyst, "民政局", "has no department", nil},
		{"x", "agent", "", "unknown role", nil},
		{"", RoleAdmin, "", "empty", nil},
		{"a b", RoleAdmin, "", "space", nil},
		{strings.Repeat("长", 65), RoleAdmin, "", "longer than 64", nil},
	} {
		_, err := s.CreateUser(ctx, c.name, c.role, c.dept, "h")
		if err == nil || !strings.Contains(err.Error(), c.want) || (c.is != nil && !errors.Is(err, c.is)) {
			t.Errorf("create %q %s %q: %v, want %q", c.name, c.role, c.dept, err, c.want)
		}
	}
	// The schema itself refuses a department user without a department.
	if _, err := s.wdb.ExecContext(ctx, `INSERT INTO users (name, role, password_hash, created_at, password_changed_at)
		VALUES ('raw', 'department', 'h', 0, 0)`); err == nil {
		t.Error("schema accepted a department user without department")
	}

	got, err := s.UserByName(ctx, "dora")
	if err != nil || got.Role != RoleDepartment || got.PasswordHash != "$2a$10$hashD" || got.Department != "民政局" ||
		got.DisabledAt != nil {
		t.Fatalf("dora: %+v %v", got, err)
	}
	if _, err := s.UserByName(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
	users, err := s.Users(ctx)
	if err != nil || len(users) != 2 || users[0].Name != "admin" || users[1].Name != "dora" {
		t.Fatalf("users: %+v %v", users, err)
	}

	// Sessions: create, read, touch, expire.
	hash := func(tok string) []byte { h := sha256.Sum256([]byte(tok)); return h[:] }
	now := clk.Now()
	mk := func(user, tok string, expires time.Time) {
		t.Helper()
		if err := s.CreateSession(ctx, user, Session{TokenHash: hash(tok), CSRF: "csrf-" + tok, CreatedAt: now,
			LastSeen: now, ExpiresAt: expires}); err != nil {
			t.Fatalf("create session %s: %v", tok, err)
		}
	}
	mk("dora", "t1", now.Add(time.Hour))
	mk("dora", "t2", now.Add(time.Hour))
	mk("admin", "t3", now.Add(time.Minute))
	if err := s.CreateSession(ctx, "nobody", Session{TokenHash: hash("t4"), CSRF: "c"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("session of an unknown user: %v", err)
	}
	sess, err := s.SessionByHash(ctx, hash("t1"))
	if err != nil || sess.UserName != "dora" || sess.UserID != dora.ID || sess.CSRF != "csrf-t1" ||
		!sess.ExpiresAt.Equal(now.Add(time.Hour)) || !bytes.Equal(sess.TokenHash, hash("t1")) {
		t.Fatalf("session: %+v %v", sess, err)
	}
	if _, err := s.SessionByHash(ctx, hash("nope")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown session: %v", err)
	}
	if err := s.TouchSession(ctx, hash("t1"), now.Add(30*time.Minute), now.Add(90*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if sess, _ := s.SessionByHash(ctx, hash("t1")); !sess.LastSeen.Equal(now.Add(30*time.Minute)) ||
		!sess.ExpiresAt.Equal(now.Add(90*time.Minute)) {
		t.Fatalf("touched session: %+v", sess)
	}
	if n, err := s.DeleteExpiredSessions(ctx, now.Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("delete expired: %d %v", n, err)
	}
	if err := s.DeleteSession(ctx, hash("t2")); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountSessions(ctx); n != 1 {
		t.Fatalf("%d sessions left, want t1", n)
	}

	// A password change ends the user's sessions and moves PasswordChangedAt.
	clk.Set(now.Add(time.Hour))
	mk("admin", "t5", now.Add(2*time.Hour))
	if err := s.SetPassword(ctx, "dora", "$2a$10$hashD2"); err != nil {
		t.Fatal(err)
	}
	got, _ = s.UserByName(ctx, "dora")
	if got.PasswordHash != "$2a$10$hashD2" || !got.PasswordChangedAt.Equal(clk.Now()) {
		t.Fatalf("after set password: %+v", got)
	}
	if _, err := s.SessionByHash(ctx, hash("t1")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("dora's session survived the password change: %v", err)
	}
	if _, err := s.SessionByHash(ctx, hash("t5")); err != nil {
		t.Fatalf("admin's session ended with dora's password: %v", err)
	}
	if err := s.SetPassword(ctx, "nobody", "h"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("set password of unknown: %v", err)
	}

	// Disabling ends sessions and refuses new ones; disabling twice keeps the first time.
	if err := s.DisableUser(ctx, "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByHash(ctx, hash("t5")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("session survived disabling: %v", err)
	}
	if err := s.CreateSession(ctx, "admin", Session{TokenHash: hash("t6"), CSRF: "c"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("session of a disabled user: %v", err)
	}
	clk.Set(now.Add(2 * time.Hour))
	if err := s.DisableUser(ctx, "admin"); err != nil {
		t.Fatal(err)
	}
	got, _ = s.UserByName(ctx, "admin")
	if got.DisabledAt == nil || !got.DisabledAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("disabled at %v, want the first disable", got.DisabledAt)
	}
	if err := s.DisableUser(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("disable unknown: %v", err)
	}

	// Everything survives a reopen.
	s.Close()
	s2 := openAt(t, path, Options{})
	if n, err := s2.CountUsers(ctx); err != nil || n != 2 {
		t.Fatalf("users after reopen: %d %v", n, err)
	}
}
