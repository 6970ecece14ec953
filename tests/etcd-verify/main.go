// etcd-verify: runs etcd's own data-dir verifier (server/v3/verify, the check
// behind ETCD_VERIFY=all) on a stopped member's data dir, with ExactIndex as
// for a freshly restored member. Built per etcd version by
// scripts/etcd-versions.sh; a test reference only, never part of etcd-dr.
//
//	etcd-verify DATA_DIR
//
// Prints "OK" and exits 0, or prints the error and exits 1 (2 on a panic).
package main

import (
	"fmt"
	"os"

	"go.etcd.io/etcd/server/v3/verify"
	"go.uber.org/zap"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: etcd-verify DATA_DIR")
		os.Exit(2)
	}
	defer func() {
		if r := recover(); r != nil {
			fmt.Printf("etcd-verify: %s: panic: %v\n", os.Args[1], r)
			os.Exit(2)
		}
	}()
	err := verify.Verify(verify.Config{DataDir: os.Args[1], ExactIndex: true, Logger: zap.NewNop()})
	if err != nil {
		fmt.Printf("etcd-verify: %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	fmt.Println("OK")
}
