package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"zhizhi/collector/store"
	"zhizhi/server/auth"
)

// Password limits: bcrypt reads at most 72 bytes.
const (
	minPasswordLen   = 10 // characters
	maxPasswordBytes = 72
)

func (c *cli) usersCmd() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "users",
		Short: "Add, list, re-password and disable console users",
		Long: `Add, list, re-password and disable the people who sign in to the console and the API. These commands
work on <data>/zhizhi.db directly, also while "zhizhi up" is running.

Roles: admin (the bureau: everything), analyst (the bureau: reads everything), department (a department's
data officer: only that department's systems and hosts, in the console).`,
	}
	cmd.PersistentFlags().StringVar(&dataDir, "data", "./data", "data directory of the server")
	withStore := func(ctx context.Context, fn func(st *store.Store) error) error {
		return withExistingStore(ctx, dataDir, c.log, fn)
	}

	var role, department string
	var addStdin bool
	add := &cobra.Command{
		Use:   "add NAME --role admin|analyst|department [--department NAME] [--password-stdin]",
		Short: "Add a user; prints a generated password once unless --password-stdin",
		Long: `Add a user. Without --password-stdin a random password is generated and printed once: hand it over and
let the user keep it. With --password-stdin the first line of standard input is the password (at least
10 characters). A department user needs --department naming an existing department (departments appear
when their first agent enrolls).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := store.CheckUserName(name); err != nil {
				return fmt.Errorf("NAME: %w", err)
			}
			r, err := auth.ParseRole(role)
			if err != nil {
				return fmt.Errorf("--role: %w", err)
			}
			switch {
			case r == auth.RoleDepartment && strings.TrimSpace(department) == "":
				return errors.New("--department: required with --role department")
			case r != auth.RoleDepartment && department != "":
				return fmt.Errorf("--department: only for --role department, not %s", r)
			}
			pw, generated, err := passwordFor(cmd, addStdin)
			if err != nil {
				return err
			}
			hash, err := auth.HashPassword(pw, auth.DefaultCost)
			if err != nil {
				return err
			}
			return withStore(cmd.Context(), func(st *store.Store) error {
				_, err := st.CreateUser(cmd.Context(), name, string(r), strings.TrimSpace(department), hash)
				switch {
				case errors.Is(err, store.ErrUserExists):
					return fmt.Errorf("NAME: user %q exists", name)
				case errors.Is(err, store.ErrNotFound):
					return fmt.Errorf("--department: no department %q", strings.TrimSpace(department))
				case err != nil:
					return err
				}
				fmt.Fprintf(c.out, "user %s added (role %s", name, r)
				if r == auth.RoleDepartment {
					fmt.Fprintf(c.out, ", department %s", strings.TrimSpace(department))
				}
				fmt.Fprintln(c.out, ")")
				if generated {
					printPassword(c.out, pw)
				}
				return nil
			})
		},
	}
	add.Flags().StringVar(&role, "role", "", "admin, analyst or department (required)")
	add.Flags().StringVar(&department, "department", "", "the department of a department user (must exist)")
	add.Flags().BoolVar(&addStdin, "password-stdin", false, "read the password from the first line of standard input")
	add.MarkFlagRequired("role")

	list := &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var users []store.User
			err := withStore(cmd.Context(), func(st *store.Store) (err error) {
				users, err = st.Users(cmd.Context())
				return err
			})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(c.out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tDEPARTMENT\tCREATED\tPASSWORD SET\tDISABLED")
			for _, u := range users {
				dept := u.Department
				if dept == "" {
					dept = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.Name, u.Role, dept, timeOrDash(&u.CreatedAt, "-"),
					timeOrDash(&u.PasswordChangedAt, "-"), timeOrDash(u.DisabledAt, "-"))
			}
			return tw.Flush()
		},
	}

	var passwdStdin bool
	passwd := &cobra.Command{
		Use:   "passwd NAME [--password-stdin]",
		Short: "Set a user's password (a generated one unless --password-stdin); ends the user's sessions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			pw, generated, err := passwordFor(cmd, passwdStdin)
			if err != nil {
				return err
			}
			hash, err := auth.HashPassword(pw, auth.DefaultCost)
			if err != nil {
				return err
			}
			err = withStore(cmd.Context(), func(st *store.Store) error { return st.SetPassword(cmd.Context(), name, hash) })
			switch {
			case errors.Is(err, store.ErrNotFound):
				return fmt.Errorf("NAME: no user %q", name)
			case err != nil:
				return err
			}
			fmt.Fprintf(c.out, "password of %s set; the user's sessions ended\n", name)
			if generated {
				printPassword(c.out, pw)
			}
			return nil
		},
	}
	passwd.Flags().BoolVar(&passwdStdin, "password-stdin", false, "read the password from the first line of standard input")

	disable := &cobra.Command{
		Use:   "disable NAME",
		Short: "Disable a user: no more sign-ins, sessions end at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			err := withStore(cmd.Context(), func(st *store.Store) error { return st.DisableUser(cmd.Context(), name) })
			switch {
			case errors.Is(err, store.ErrNotFound):
				return fmt.Errorf("NAME: no user %q", name)
			case err != nil:
				return err
			}
			fmt.Fprintf(c.out, "user %s disabled; the user's sessions ended\n", name)
			return nil
		},
	}
	cmd.AddCommand(add, list, passwd, disable)
	return cmd
}

// withExistingStore runs fn on the existing database of dataDir (it does not create one) and closes it.
func withExistingStore(ctx context.Context, dataDir string, log *slog.Logger, fn func(st *store.Store) error) error {
	path := filepath.Join(dataDir, dbFile)
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("no database at %s (run \"zhizhi up\" first or pass --data): %w", path, err)
	}
	st, err := store.Open(ctx, path, store.Options{Logger: log})
	if err != nil {
		return err
	}
	return errors.Join(fn(st), st.Close())
}

// passwordFor returns the password from the first line of standard input when fromStdin, else a generated one
// (and true).
func passwordFor(cmd *cobra.Command, fromStdin bool) (string, bool, error) {
	if !fromStdin {
		pw, err := auth.GeneratePassword(0)
		return pw, true, err
	}
	line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", false, fmt.Errorf("--password-stdin: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	switch {
	case pw == "":
		return "", false, errors.New("--password-stdin: standard input holds no password")
	case utf8.RuneCountInString(pw) < minPasswordLen:
		return "", false, fmt.Errorf("--password-stdin: the password has %d characters, at least %d are needed",
			utf8.RuneCountInString(pw), minPasswordLen)
	case len(pw) > maxPasswordBytes:
		return "", false, fmt.Errorf("--password-stdin: the password has %d bytes, at most %d are allowed", len(pw), maxPasswordBytes)
	}
	return pw, false, nil
}

func printPassword(w io.Writer, pw string) {
	fmt.Fprintf(w, "\npassword: %s\n\nThe password is shown only this once.\n", pw)
}
