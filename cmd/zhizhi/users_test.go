package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"zhizhi/collector/store"
	"zhizhi/server/auth"
)

// runIn executes the CLI with args and stdin.
func runIn(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newRootCmd(&out, &errOut)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

var printedPasswordRE = regexp.MustCompile(`(?m)^password: (\S+)$`)

func TestUsersCommands(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	if _, err := run(t, "users", "list", "--data", dataDir); err == nil || !strings.Contains(err.Error(), "no database") {
		t.Fatalf("list without a database: %v", err)
	}
	st, err := store.Open(ctx, filepath.Join(dataDir, dbFile), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.EnrollAgent(ctx, "低保审批", "民政局"); err != nil {
		t.Fatal(err)
	}
	st.Close()

	out, err := run(t, "users", "add", "wang", "--role", "analyst", "--data", dataDir)
	m := printedPasswordRE.FindStringSubmatch(out)
	if err != nil || m == nil || len(m[1]) != 20 {
		t.Fatalf("add with a generated password: %v\n%s", err, out)
	}
	wangPW := m[1]
	out, err = runIn(t, "民政-secret-1\n", "users", "add", "li", "--role", "department", "--department", "民政局",
		"--password-stdin", "--data", dataDir)
	if err != nil || strings.Contains(out, "password:") || !strings.Contains(out, "department 民政局") {
		t.Fatalf("add with --password-stdin: %v\n%s", err, out)
	}

	for _, c := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"", []string{"add", "x"}, `"role"`},
		{"", []string{"add", "x", "--role", "root"}, "--role: unknown role"},
		{"", []string{"add", "x", "--role", "department"}, "--department: required"},
		{"", []string{"add", "x", "--role", "analyst", "--department", "民政局"}, "--department: only for"},
		{"", []string{"add", "x", "--role", "department", "--department", "公安局"}, `--department: no department "公安局"`},
		{"", []string{"add", "wang", "--role", "admin"}, `NAME: user "wang" exists`},
		{"", []string{"add", "a b", "--role", "admin"}, "NAME: user name"},
		{"", []string{"add", "x", "--role", "admin", "--password-stdin"}, "--password-stdin: standard input holds no password"},
		{"short\n", []string{"add", "x", "--role", "admin", "--password-stdin"}, "--password-stdin: the password has 5 characters"},
		{strings.Repeat("x", 73), []string{"add", "x", "--role", "admin", "--password-stdin"}, "at most 72"},
		{"", []string{"passwd", "nobody"}, `NAME: no user "nobody"`},
		{"", []string{"disable", "nobody"}, `NAME: no user "nobody"`},
		{"", []string{"add"}, "accepts 1 arg"},
	} {
		_, err := runIn(t, c.stdin, append(append([]string{"users"}, c.args...), "--data", dataDir)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("users %v: %v, want %q", c.args, err, c.want)
		}
	}

	out, err = run(t, "users", "list", "--data", dataDir)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err != nil || len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") || !strings.HasPrefix(lines[1], "li ") ||
		!strings.Contains(lines[1], "department") || !strings.Contains(lines[1], "民政局") || !strings.HasPrefix(lines[2], "wang ") ||
		strings.Contains(out, "$2a$") {
		t.Fatalf("list: %v\n%s", err, out)
	}

	// The passwords work through the same authenticator the server uses, and sessions persist in the store.
	check := func(name, pw string) error {
		t.Helper()
		st, err := store.Open(ctx, filepath.Join(dataDir, dbFile), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		_, err = auth.NewAuthenticator(openUsers(st, nil)).Authenticate(ctx, name, pw)
		return err
	}
	if err := check("wang", wangPW); err != nil {
		t.Fatalf("generated password: %v", err)
	}
	if err := check("li", "民政-secret-1"); err != nil {
		t.Fatalf("stdin password: %v", err)
	}

	// A session made now survives a reopen and ends with passwd.
	st, _ = store.Open(ctx, filepath.Join(dataDir, dbFile), store.Options{})
	users := openUsers(st, nil)
	sessions := auth.NewSessions(sessionStore(users), auth.NewAuthenticator(users), auth.SessionOptions{})
	li, _ := auth.NewAuthenticator(users).User(ctx, "li")
	if li.DepartmentID == 0 || li.Department != "民政局" || li.Role != auth.RoleDepartment {
		t.Fatalf("li: %+v", li)
	}
	tok, _, err := sessions.Create(ctx, li)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	lookup := func() error {
		st, _ := store.Open(ctx, filepath.Join(dataDir, dbFile), store.Options{})
		defer st.Close()
		users := openUsers(st, nil)
		_, err := auth.NewSessions(sessionStore(users), auth.NewAuthenticator(users), auth.SessionOptions{}).Lookup(ctx, tok)
		return err
	}
	if err := lookup(); err != nil {
		t.Fatalf("session after reopen: %v", err)
	}
	out, err = runIn(t, "another-secret-2\n", "users", "passwd", "li", "--password-stdin", "--data", dataDir)
	if err != nil || !strings.Contains(out, "sessions ended") {
		t.Fatalf("passwd: %v %s", err, out)
	}
	if err := lookup(); !errors.Is(err, auth.ErrNoSession) {
		t.Fatalf("session after passwd: %v", err)
	}
	if err := check("li", "民政-secret-1"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("old password after passwd: %v", err)
	}
	if err := check("li", "another-secret-2"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	out, err = run(t, "users", "passwd", "wang", "--data", dataDir)
	if m := printedPasswordRE.FindStringSubmatch(out); err != nil || m == nil || m[1] == wangPW || check("wang", m[1]) != nil {
		t.Fatalf("passwd with a generated password: %v\n%s", err, out)
	}

	if out, err = run(t, "users", "disable", "li", "--data", dataDir); err != nil || !strings.Contains(out, "disabled") {
		t.Fatalf("disable: %v %s", err, out)
	}
	if err := check("li", "another-secret-2"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("disabled user signs in: %v", err)
	}
	out, _ = run(t, "users", "list", "--data", dataDir)
	if f := strings.Fields(strings.Split(out, "\n")[1]); f[len(f)-1] == "-" {
		t.Fatalf("list does not show the disabling:\n%s", out)
	}
}

// TestUpCreatesThePersistentAdminOnce runs up twice on the store's own users table: the first run prints the
// admin password, the second prints nothing and the password still works.
func TestUpCreatesThePersistentAdminOnce(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	r := startUp(t, dataDir, nil, false)
	admin := r.adminPassword(t)
	if code, data := r.do(t, "GET", "/api/v1/agents", nil, admin); code != 200 {
		t.Fatalf("admin on the first run: %d %s", code, data)
	}
	r.stop(t)
	r2 := startUp(t, dataDir, nil, false)
	defer r2.stop(t)
	if strings.Contains(r2.out.String(), "password") {
		t.Fatalf("second run printed a credential again:\n%s", r2.out)
	}
	if code, data := r2.do(t, "GET", "/api/v1/agents", nil, admin); code != 200 {
		t.Fatalf("admin after restart: %d %s", code, data)
	}
	out, err := run(t, "users", "list", "--data", dataDir)
	if err != nil || !strings.Contains(out, "admin") {
		t.Fatalf("users list: %v %s", err, out)
	}
}
