# Man pages (hand-written mdoc, mandoc -Tlint clean; checked by
# tests/integration/t0900-docs.sh) and the examples shipped in the tarball.
dist_man_MANS += man/etcd-dr.1 man/etcd-dr.conf.5 man/etcd-dr-format.5
EXTRA_DIST += \
	doc/design-notes.md doc/etcd-internals.md doc/etcd-observed.md doc/pitr.md \
	doc/restore-kubernetes.md \
	doc/README.md doc/runbooks/README.md doc/runbooks/kubeadm.md doc/runbooks/k3s-rke2.md \
	doc/runbooks/talos.md \
	examples/etcd-dr.conf \
	examples/crontab \
	examples/systemd/etcd-dr-backup.service \
	examples/systemd/etcd-dr-backup.timer \
	examples/systemd/etcd-dr-schedule.service \
	examples/kubernetes/cronjob.yaml
# the Kubernetes view (ls/get --k8s, inspect's encryption report)
EXTRA_DIST += doc/kubernetes-view.md doc/kubernetes-encryption.md
