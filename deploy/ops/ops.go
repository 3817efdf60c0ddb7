// Package ops holds the end-to-end tests of the operations commands (zhizhi backup and restore, the refused
// downgrade) against the real zhizhi binary and a running server.
package ops
