// crireset stops and removes every pod sandbox of a CRI runtime, like `crictl rmp -af`
// (cri-tools is not on the Go module proxy reachable here). `down` runs it with the kubelet
// already stopped, so the runtime tears each pod down properly: containers killed, CNI DEL
// run (veth and IP released), network namespace unmounted.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	remote "k8s.io/cri-client/pkg"
	"k8s.io/klog/v2"
)

func main() {
	endpoint := flag.String("endpoint", "", "CRI endpoint, e.g. unix:///run/containerd/containerd.sock")
	flag.Parse()
	if *endpoint == "" {
		fmt.Fprintln(os.Stderr, "crireset: --endpoint is required")
		os.Exit(2)
	}
	logger := klog.Background()
	rt, err := remote.NewRemoteRuntimeService(*endpoint, 30*time.Second, nil, &logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crireset: connect:", err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pods, err := rt.ListPodSandbox(ctx, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crireset: list pods:", err)
		os.Exit(1)
	}
	failed := false
	for _, p := range pods {
		name := p.GetMetadata().GetNamespace() + "/" + p.GetMetadata().GetName()
		if err := rt.StopPodSandbox(ctx, p.GetId()); err != nil {
			fmt.Fprintf(os.Stderr, "crireset: stop %s: %v\n", name, err)
			failed = true
			continue
		}
		if err := rt.RemovePodSandbox(ctx, p.GetId()); err != nil {
			fmt.Fprintf(os.Stderr, "crireset: remove %s: %v\n", name, err)
			failed = true
			continue
		}
		fmt.Printf("removed pod %s\n", name)
	}
	if failed {
		os.Exit(1)
	}
}
