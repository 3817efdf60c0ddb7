package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"zhizhi/collector/store"
)

func (c *cli) agentsCmd() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "agents",
		Short: "Enroll, list and revoke agents",
		Long: `Enroll, list and revoke agents. These commands work on <data>/zhizhi.db directly, also while
"zhizhi up" is running.`,
	}
	cmd.PersistentFlags().StringVar(&dataDir, "data", "./data", "data directory of the server")
	// withStore runs fn on the existing database of --data.
	withStore := func(ctx context.Context, fn func(st *store.Store) error) error {
		return withExistingStore(ctx, dataDir, c.log, fn)
	}

	var system, department string
	add := &cobra.Command{
		Use:   "add --system NAME --department NAME",
		Short: "Enroll an agent and print its token once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd.Context(), func(st *store.Store) error {
				a, token, err := st.EnrollAgent(cmd.Context(), system, department)
				if err != nil {
					return err
				}
				fmt.Fprintf(c.out, "agent:  %s\nsystem: %s (%s)\ntoken:  %s\n\n", a.ID, a.System, a.Department, token)
				fmt.Fprintf(c.out, "The token is shown only this once. On the agent host save it to /etc/zhizhi/agent.token\n"+
					"and run: chmod 600 /etc/zhizhi/agent.token\n")
				return nil
			})
		},
	}
	add.Flags().StringVar(&system, "system", "", "system (application) the host serves (required)")
	add.Flags().StringVar(&department, "department", "", "department that owns the system (required)")
	add.MarkFlagRequired("system")
	add.MarkFlagRequired("department")

	list := &cobra.Command{
		Use:   "list",
		Short: "List agents",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var agents []store.Agent
			err := withStore(cmd.Context(), func(st *store.Store) (err error) {
				agents, err = st.ListAgents(cmd.Context())
				return err
			})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(c.out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSYSTEM\tDEPARTMENT\tHOST\tLAST SEEN\tSKEW\tDROPPED\tREVOKED")
			for _, a := range agents {
				host := a.Hostname
				if host == "" {
					host = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", a.ID, a.System, a.Department, host,
					timeOrDash(a.LastSeen, "never"), a.ClockSkew.Round(time.Second), a.Dropped, timeOrDash(a.RevokedAt, "-"))
			}
			return tw.Flush()
		},
	}

	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an agent's token (its data is kept)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			err := withStore(cmd.Context(), func(st *store.Store) error { return st.RevokeAgent(cmd.Context(), args[0]) })
			switch {
			case errors.Is(err, store.ErrNotFound):
				return fmt.Errorf("no agent %q", args[0])
			case err != nil && !errors.Is(err, store.ErrRevoked):
				return err
			}
			fmt.Fprintf(c.out, "agent %s revoked\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(add, list, revoke)
	return cmd
}

func timeOrDash(t *time.Time, none string) string {
	if t == nil || t.IsZero() {
		return none
	}
	return t.Local().Format("2006-01-02 15:04:05")
}
