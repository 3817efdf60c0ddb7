// Command gen writes zhizhi's Grafana dashboards to deploy/grafana/dashboards (run from the repository root:
// `go run ./deploy/grafana/gen`, or `make dashboards`).
package main

import (
	"flag"
	"fmt"
	"os"

	"zhizhi/deploy/grafana"
)

func main() {
	out := flag.String("out", "deploy/grafana/dashboards", "directory to write the dashboard JSON files to")
	flag.Parse()
	if err := grafana.Write(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
