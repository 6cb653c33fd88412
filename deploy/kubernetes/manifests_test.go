package kubernetes

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// manifests decodes every document of every *.yaml here strictly (unknown
// fields are errors) into its API type, by kind.
func manifests(t *testing.T) map[string]any {
	t.Helper()
	files, _ := filepath.Glob("*.yaml")
	if len(files) < 4 {
		t.Fatalf("%d manifests", len(files))
	}
	out := map[string]any{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
			var meta struct{ Kind string }
			if err := yaml.Unmarshal([]byte(doc), &meta); err != nil || meta.Kind == "" {
				t.Fatalf("%s document %d: no kind (%v)", f, i+1, err)
			}
			var obj any
			switch meta.Kind {
			case "Deployment":
				obj = &appsv1.Deployment{}
			case "Service":
				obj = &corev1.Service{}
			case "Job":
				obj = &batchv1.Job{}
			case "ConfigMap":
				obj = &corev1.ConfigMap{}
			case "PersistentVolumeClaim":
				obj = &corev1.PersistentVolumeClaim{}
			default:
				t.Fatalf("%s document %d: unexpected kind %s", f, i+1, meta.Kind)
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Fatalf("%s document %d (%s): %v", f, i+1, meta.Kind, err)
			}
			name := strings.TrimPrefix(fmt.Sprintf("%T", obj), "*")
			key := meta.Kind + "/" + nameOf(obj)
			if _, dup := out[key]; dup {
				t.Fatalf("%s twice (%s)", key, name)
			}
			out[key] = obj
		}
	}
	return out
}

func nameOf(obj any) string {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return o.Name
	case *corev1.Service:
		return o.Name
	case *batchv1.Job:
		return o.Name
	case *corev1.ConfigMap:
		return o.Name
	case *corev1.PersistentVolumeClaim:
		return o.Name
	}
	return ""
}

// flag returns the value of --name=value in args.
func flag(args []string, name string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
	}
	return ""
}

func TestManifestsHoldTogether(t *testing.T) {
	m := manifests(t)
	job, ok := m["Job/wsbench-shards"].(*batchv1.Job)
	if !ok {
		t.Fatal("no Job wsbench-shards")
	}
	spec := job.Spec
	if spec.CompletionMode == nil || *spec.CompletionMode != batchv1.IndexedCompletion {
		t.Fatal("the shards' Job must be completionMode Indexed: JOB_COMPLETION_INDEX is each shard's index")
	}
	if spec.Completions == nil || spec.Parallelism == nil || *spec.Completions != *spec.Parallelism {
		t.Fatal("completions and parallelism must be equal: every shard runs at once, or the start instant is missed")
	}
	n := int(*spec.Completions)
	pod := spec.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever || spec.BackoffLimit == nil || *spec.BackoffLimit != 0 {
		t.Error("a shard that failed must not run again: its window would not line up with the others")
	}
	if a := pod.Affinity; a == nil || a.PodAntiAffinity == nil ||
		len(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) == 0 ||
		a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].TopologyKey != "kubernetes.io/hostname" {
		t.Error("shards need anti-affinity by hostname: one per node")
	}
	c := pod.Containers[0]
	if got := flag(c.Args, "shards"); got != fmt.Sprint(n) {
		t.Errorf("--shards=%s, want %d (the Job's completions)", got, n)
	}
	if out := flag(c.Args, "out"); !strings.Contains(out, "$(JOB_COMPLETION_INDEX)") || !strings.HasPrefix(out, "/results/") {
		t.Errorf("--out=%s: each shard needs its own file on the results volume", out)
	}
	if flag(c.Args, "start-at") != "$(START_AT)" || !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool {
		return e.Name == "START_AT" && e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil && e.ValueFrom.ConfigMapKeyRef.Name == "wsbench-run"
	}) {
		t.Error("--start-at must come from the wsbench-run ConfigMap, the same for every shard")
	}
	if _, ok := m["ConfigMap/wsbench-run"].(*corev1.ConfigMap); !ok {
		t.Error("no ConfigMap wsbench-run")
	}
	if c.Resources.Limits.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
		t.Error("shards need CPU and memory requests and limits")
	}

	// The target is the Service, on the port the server listens on.
	svc, ok := m["Service/wsbench-server"].(*corev1.Service)
	if !ok {
		t.Fatal("no Service wsbench-server")
	}
	target := flag(c.Args, "target")
	if want := fmt.Sprintf("ws://%s:%d/", svc.Name, svc.Spec.Ports[0].Port); !strings.HasPrefix(target, want) {
		t.Errorf("--target=%s, want it to start %s", target, want)
	}
	dep, ok := m["Deployment/wsbench-server"].(*appsv1.Deployment)
	if !ok {
		t.Fatal("no Deployment wsbench-server")
	}
	srv := dep.Spec.Template.Spec.Containers[0]
	if !slices.Contains(srv.Args, "--allow-remote") || !slices.Contains(srv.Args, "0.0.0.0:8080") {
		t.Errorf("server args %v: it must listen beyond loopback, with --allow-remote", srv.Args)
	}
	if srv.Ports[0].Name != svc.Spec.Ports[0].TargetPort.StrVal || srv.Ports[0].ContainerPort != 8080 {
		t.Error("the Service's targetPort must name the server's port")
	}
	for k, v := range svc.Spec.Selector {
		if dep.Spec.Template.Labels[k] != v {
			t.Errorf("the Service selects %s=%s, which the server's pods lack", k, v)
		}
	}

	// Shards and merge share the results volume.
	pvc, ok := m["PersistentVolumeClaim/wsbench-results"].(*corev1.PersistentVolumeClaim)
	if !ok || !slices.Contains(pvc.Spec.AccessModes, corev1.ReadWriteMany) {
		t.Fatal("the results claim must be ReadWriteMany: every shard's node writes to it")
	}
	merge, ok := m["Job/wsbench-merge"].(*batchv1.Job)
	if !ok {
		t.Fatal("no Job wsbench-merge")
	}
	for _, p := range []corev1.PodSpec{pod, merge.Spec.Template.Spec} {
		if len(p.Volumes) == 0 || p.Volumes[0].PersistentVolumeClaim == nil || p.Volumes[0].PersistentVolumeClaim.ClaimName != pvc.Name {
			t.Errorf("a pod without the results volume: %+v", p.Volumes)
		}
	}
	script := strings.Join(merge.Spec.Template.Spec.Containers[0].Args, "\n")
	if !strings.Contains(script, fmt.Sprintf("n=%d", n)) || !strings.Contains(script, "wsbench merge /results/shard-*.json -o /results/merged.json") {
		t.Errorf("the merge step must wait for %d shards and merge them:\n%s", n, script)
	}
}
