// Package crossbuild holds the test that builds zhizhi for every supported CPU and system and runs the
// foreign Linux binaries under qemu-user-static.
package crossbuild
