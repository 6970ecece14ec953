# integration tests (shell, TAP, real etcd)
