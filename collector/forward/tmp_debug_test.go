package forward

import (
	"context"
	"syscall"
	"time"
	"testing"

	"zhizhi/collector/store"
)

func TestTmpDebug(t *testing.T) {
	vm := startVictoria(t)
	fl := newFleet(t, store.Options{})
	n := fl.ingest(20)
	f, _ := New(fl.st, fastOpts(vm.url()))
	f.Step(context.Background())
	vm.waitExport(t, fl.want)
	vm.persist()
	vm.cmd.Process.Signal(syscall.SIGKILL)
	<-vm.done
	vm.restart()
	for i := 0; i < 4; i++ {
		n += fl.ingest(10)
		k, err := f.Step(context.Background())
		t.Logf("step %d: %d %v", i, k, err)
	}
	time.Sleep(3 * time.Second)
	t.Log(vm.log())
	vm.waitExport(t, fl.want)
	t.Log(vm.log())
}
