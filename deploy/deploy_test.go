package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"omtx/jobs"
)

// Where the deployment lives, relative to this package.
const (
	k8sDir       = "k8s"
	terraformDir = "terraform"
	dockerDir    = "docker"
	metricsDir   = "../metrics"
	namespace    = "omtx"
	webName      = "omtx-web"
)

// runnerModels are the models with a runner Deployment and image, and
// whether each runs on the GPU node pool.
var runnerModels = map[string]bool{"vina": false, "boltz2": true, "chai1": true}

// GPU scheduling of the runners, as the Terraform GPU pool provides it.
const (
	gpuAccelerator   = "nvidia-l4"
	gpuResource      = corev1.ResourceName("nvidia.com/gpu")
	acceleratorLabel = "cloud.google.com/gke-accelerator"
	nodePoolLabel    = "cloud.google.com/gke-nodepool"
	wiAnnotation     = "iam.gke.io/gcp-service-account"
)

// ---------------------------------------------------------------------------
// Kubernetes manifests

// builtin are the Kubernetes kinds the manifests may use, each decoded
// strictly into its API type.
var builtin = map[string]struct {
	apiVersion string
	new        func() any
}{
	"Namespace":               {"v1", func() any { return &corev1.Namespace{} }},
	"ConfigMap":               {"v1", func() any { return &corev1.ConfigMap{} }},
	"ServiceAccount":          {"v1", func() any { return &corev1.ServiceAccount{} }},
	"Service":                 {"v1", func() any { return &corev1.Service{} }},
	"Deployment":              {"apps/v1", func() any { return &appsv1.Deployment{} }},
	"Ingress":                 {"networking.k8s.io/v1", func() any { return &networkingv1.Ingress{} }},
	"NetworkPolicy":           {"networking.k8s.io/v1", func() any { return &networkingv1.NetworkPolicy{} }},
	"HorizontalPodAutoscaler": {"autoscaling/v2", func() any { return &autoscalingv2.HorizontalPodAutoscaler{} }},
	"PodDisruptionBudget":     {"policy/v1", func() any { return &policyv1.PodDisruptionBudget{} }},
}

// custom are the custom resources the manifests may use: KEDA's (decoded
// strictly into the local types below) and GKE's own (checked as
// unstructured documents). required lists dotted paths that must be set.
var custom = map[string]struct {
	apiVersion string
	required   []string
}{
	"ScaledObject":          {"keda.sh/v1alpha1", []string{"spec.scaleTargetRef.name", "spec.triggers"}},
	"TriggerAuthentication": {"keda.sh/v1alpha1", []string{"spec.podIdentity.provider"}},
	"ManagedCertificate":    {"networking.gke.io/v1", []string{"spec.domains"}},
	"BackendConfig":         {"cloud.google.com/v1", []string{"spec.healthCheck.requestPath", "spec.timeoutSec"}},
	"FrontendConfig":        {"networking.gke.io/v1beta1", []string{"spec.redirectToHttps.enabled"}},
	"PodMonitoring":         {"monitoring.googleapis.com/v1", []string{"spec.selector.matchLabels", "spec.endpoints"}},
}

// scaledObject is the part of KEDA's ScaledObject (keda.sh/v1alpha1) the
// manifests use; decoding is strict, so a misspelt field fails.
type scaledObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		ScaleTargetRef struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Name       string `json:"name"`
		} `json:"scaleTargetRef"`
		MinReplicaCount *int32 `json:"minReplicaCount"`
		MaxReplicaCount *int32 `json:"maxReplicaCount"`
		PollingInterval *int32 `json:"pollingInterval"`
		CooldownPeriod  *int32 `json:"cooldownPeriod"`
		Fallback        *struct {
			FailureThreshold int32 `json:"failureThreshold"`
			Replicas         int32 `json:"replicas"`
		} `json:"fallback"`
		Advanced *struct {
			HorizontalPodAutoscalerConfig *struct {
				Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior `json:"behavior"`
			} `json:"horizontalPodAutoscalerConfig"`
		} `json:"advanced"`
		Triggers []struct {
			Type              string            `json:"type"`
			Metadata          map[string]string `json:"metadata"`
			AuthenticationRef *struct {
				Name string `json:"name"`
				Kind string `json:"kind"`
			} `json:"authenticationRef"`
		} `json:"triggers"`
	} `json:"spec"`
}

// triggerAuthentication is the part of KEDA's TriggerAuthentication the
// manifests use.
type triggerAuthentication struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		PodIdentity *struct {
			Provider string `json:"provider"`
		} `json:"podIdentity"`
	} `json:"spec"`
}

// kustomization is the part of kustomize's Kustomization the manifests use.
type kustomization struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace"`
	Labels     []struct {
		Pairs            map[string]string `json:"pairs"`
		IncludeSelectors bool              `json:"includeSelectors"`
	} `json:"labels"`
	Resources []string `json:"resources"`
	Images    []struct {
		Name    string `json:"name"`
		NewName string `json:"newName"`
		NewTag  string `json:"newTag"`
		Digest  string `json:"digest"`
	} `json:"images"`
}

// manifest is one YAML document of deploy/k8s.
type manifest struct {
	file       string
	kind       string
	apiVersion string
	name       string
	obj        any // a pointer to the API type, or map[string]any for GKE's kinds
}

// manifests holds every document, decoded, by kind and name.
type manifests struct {
	all   []manifest
	kinds map[string]map[string]any
}

func (m *manifests) get(kind, name string) any { return m.kinds[kind][name] }

func (m *manifests) deployments() map[string]*appsv1.Deployment {
	out := map[string]*appsv1.Deployment{}
	for n, o := range m.kinds["Deployment"] {
		out[n] = o.(*appsv1.Deployment)
	}
	return out
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// splitYAML returns the documents of a multi-document YAML file, leaving
// out those with nothing but comments.
func splitYAML(data []byte) [][]byte {
	var docs [][]byte
	for _, part := range docSeparator.Split(string(data), -1) {
		empty := true
		for _, l := range strings.Split(part, "\n") {
			if s := strings.TrimSpace(l); s != "" && !strings.HasPrefix(s, "#") {
				empty = false
				break
			}
		}
		if !empty {
			docs = append(docs, []byte(part))
		}
	}
	return docs
}

// decodeStrict decodes one YAML document the way the API server reads
// it: YAML to JSON with no hint of the target type (so a number where a
// string belongs fails, as it would on apply), then JSON with unknown
// fields refused. Duplicate keys fail too.
func decodeStrict(doc []byte, obj any) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	return dec.Decode(obj)
}

func manifestFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(k8sDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob(filepath.Join(k8sDir, "*.yml"))
	files = append(files, more...)
	var out []string
	for _, f := range files {
		if filepath.Base(f) != "kustomization.yaml" {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no manifests in %s", k8sDir)
	}
	return out
}

// loadManifests decodes every document under deploy/k8s strictly: a field
// the API type does not have, a duplicate field or an unknown kind fails.
func loadManifests(t *testing.T) *manifests {
	t.Helper()
	m := &manifests{kinds: map[string]map[string]any{}}
	for _, file := range manifestFiles(t) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range splitYAML(data) {
			where := fmt.Sprintf("%s document %d", file, i+1)
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			var obj any
			var name string
			if b, ok := builtin[tm.Kind]; ok {
				if tm.APIVersion != b.apiVersion {
					t.Errorf("%s: %s has apiVersion %q, want %q", where, tm.Kind, tm.APIVersion, b.apiVersion)
				}
				obj = b.new()
				if err := decodeStrict(doc, obj); err != nil {
					t.Errorf("%s: %s does not decode strictly: %v", where, tm.Kind, err)
					continue
				}
				meta := obj.(metav1.Object)
				name = meta.GetName()
				if tm.Kind != "Namespace" && meta.GetNamespace() != namespace {
					t.Errorf("%s: %s %s is in namespace %q, want %q", where, tm.Kind, name, meta.GetNamespace(), namespace)
				}
			} else if c, ok := custom[tm.Kind]; ok {
				if tm.APIVersion != c.apiVersion {
					t.Errorf("%s: %s has apiVersion %q, want %q", where, tm.Kind, tm.APIVersion, c.apiVersion)
				}
				var u map[string]any
				if err := decodeStrict(doc, &u); err != nil {
					t.Errorf("%s: %v", where, err)
					continue
				}
				for _, p := range append([]string{"metadata.name", "metadata.namespace"}, c.required...) {
					if v, ok := lookup(u, p); !ok || isZero(v) {
						t.Errorf("%s: %s lacks %s", where, tm.Kind, p)
					}
				}
				name, _ = lookupString(u, "metadata.name")
				if ns, _ := lookupString(u, "metadata.namespace"); ns != namespace {
					t.Errorf("%s: %s %s is in namespace %q, want %q", where, tm.Kind, name, ns, namespace)
				}
				obj = u
				switch tm.Kind {
				case "ScaledObject":
					so := &scaledObject{}
					if err := decodeStrict(doc, so); err != nil {
						t.Errorf("%s: ScaledObject does not decode strictly: %v", where, err)
						continue
					}
					obj = so
				case "TriggerAuthentication":
					ta := &triggerAuthentication{}
					if err := decodeStrict(doc, ta); err != nil {
						t.Errorf("%s: TriggerAuthentication does not decode strictly: %v", where, err)
						continue
					}
					obj = ta
				}
			} else {
				t.Errorf("%s: unknown kind %q (apiVersion %q)", where, tm.Kind, tm.APIVersion)
				continue
			}
			if name == "" {
				t.Errorf("%s: %s has no metadata.name", where, tm.Kind)
				continue
			}
			if m.kinds[tm.Kind] == nil {
				m.kinds[tm.Kind] = map[string]any{}
			}
			if _, dup := m.kinds[tm.Kind][name]; dup {
				t.Errorf("%s: a second %s named %s", where, tm.Kind, name)
			}
			m.kinds[tm.Kind][name] = obj
			m.all = append(m.all, manifest{file: file, kind: tm.Kind, apiVersion: tm.APIVersion, name: name, obj: obj})
		}
	}
	return m
}

// lookup follows a dotted path through nested maps.
func lookup(u map[string]any, path string) (any, bool) {
	var cur any = u
	for _, k := range strings.Split(path, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = mm[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func lookupString(u map[string]any, path string) (string, bool) {
	v, ok := lookup(u, path)
	s, isString := v.(string)
	return s, ok && isString
}

func isZero(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

func TestManifestsDecodeStrictly(t *testing.T) {
	m := loadManifests(t)
	for _, kind := range []string{"Namespace", "ConfigMap", "ServiceAccount", "Deployment", "Service", "Ingress",
		"HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "ScaledObject", "TriggerAuthentication"} {
		if len(m.kinds[kind]) == 0 {
			t.Errorf("no %s in %s", kind, k8sDir)
		}
	}
	if m.get("Namespace", namespace) == nil {
		t.Errorf("no Namespace %s", namespace)
	}
}

// The strict decoder is what catches a misspelt field; make sure it does.
func TestStrictDecodingRejectsUnknownFields(t *testing.T) {
	for _, c := range []struct {
		why string
		doc string
		obj any
	}{
		{"spec.replica (not replicas)", "kind: Deployment\nspec:\n  replica: 2\n", &appsv1.Deployment{}},
		{"a number for an env value", "kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n" +
			"        - name: x\n          env:\n            - name: A\n              value: 0\n", &appsv1.Deployment{}},
		{"a duplicate key", "kind: Service\nkind: Service\n", &corev1.Service{}},
		{"spec.minReplicas (not minReplicaCount)", "kind: ScaledObject\nspec:\n  minReplicas: 0\n", &scaledObject{}},
		{"a number for a trigger setting", "kind: ScaledObject\nspec:\n  triggers:\n    - type: prometheus\n" +
			"      metadata:\n        threshold: 4\n", &scaledObject{}},
	} {
		if err := decodeStrict([]byte(c.doc), c.obj); err == nil {
			t.Errorf("%s decoded without error", c.why)
		}
	}
}

func TestKustomizationListsEveryManifest(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(k8sDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	if err := decodeStrict(data, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml: %s %s, want kustomize.config.k8s.io/v1beta1 Kustomization", k.APIVersion, k.Kind)
	}
	if k.Namespace != namespace {
		t.Errorf("kustomization.yaml: namespace %q, want %q", k.Namespace, namespace)
	}
	listed := map[string]bool{}
	for _, r := range k.Resources {
		if listed[r] {
			t.Errorf("kustomization.yaml lists %s twice", r)
		}
		listed[r] = true
		if _, err := os.Stat(filepath.Join(k8sDir, r)); err != nil {
			t.Errorf("kustomization.yaml lists %s: %v", r, err)
		}
	}
	for _, f := range manifestFiles(t) {
		if !listed[filepath.Base(f)] {
			t.Errorf("kustomization.yaml does not list %s", filepath.Base(f))
		}
	}
	// Every image is pointed at the registry with a pinned tag or digest.
	images := map[string]bool{}
	for _, img := range k.Images {
		images[img.Name] = true
		switch {
		case img.Digest != "":
			if !strings.HasPrefix(img.Digest, "sha256:") {
				t.Errorf("kustomization.yaml: image %s digest %q is not sha256:...", img.Name, img.Digest)
			}
		case img.NewTag == "" || img.NewTag == "latest":
			t.Errorf("kustomization.yaml: image %s has tag %q; pin a version or digest", img.Name, img.NewTag)
		}
		if img.NewName == "" {
			t.Errorf("kustomization.yaml: image %s has no newName (the registry path)", img.Name)
		}
	}
	m := loadManifests(t)
	for name, d := range m.deployments() {
		for _, c := range allContainers(&d.Spec.Template.Spec) {
			if repo, _, _ := splitImage(c.Image); !images[repo] {
				t.Errorf("Deployment %s: image %s has no entry in kustomization.yaml images", name, c.Image)
			}
		}
	}
}

func allContainers(spec *corev1.PodSpec) []*corev1.Container {
	var out []*corev1.Container
	for i := range spec.InitContainers {
		out = append(out, &spec.InitContainers[i])
	}
	for i := range spec.Containers {
		out = append(out, &spec.Containers[i])
	}
	return out
}

// splitImage splits an image reference into repository, tag and digest.
func splitImage(ref string) (repo, tag, digest string) {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref, digest = ref[:i], ref[i+1:]
	}
	slash := strings.LastIndex(ref, "/")
	if i := strings.LastIndex(ref, ":"); i > slash {
		return ref[:i], ref[i+1:], digest
	}
	return ref, "", digest
}

// pinned says why an image reference is not pinned, or "".
func pinned(ref string) string {
	_, tag, digest := splitImage(ref)
	switch {
	case digest != "":
		if !strings.HasPrefix(digest, "sha256:") {
			return "its digest is not sha256:..."
		}
		return ""
	case tag == "":
		return "it has no tag"
	case tag == "latest":
		return "it is :latest"
	}
	return ""
}

func TestContainersAreHardened(t *testing.T) {
	m := loadManifests(t)
	if len(m.deployments()) == 0 {
		t.Fatal("no Deployments")
	}
	for name, d := range m.deployments() {
		pod := &d.Spec.Template.Spec
		psc := pod.SecurityContext
		if psc == nil {
			psc = &corev1.PodSecurityContext{}
		}
		if pod.HostNetwork || pod.HostPID || pod.HostIPC {
			t.Errorf("Deployment %s: uses the host's namespaces", name)
		}
		for _, c := range allContainers(pod) {
			where := fmt.Sprintf("Deployment %s container %s", name, c.Name)
			sc := c.SecurityContext
			if sc == nil {
				t.Errorf("%s: no securityContext", where)
				continue
			}
			nonRoot := sc.RunAsNonRoot
			if nonRoot == nil {
				nonRoot = psc.RunAsNonRoot
			}
			if nonRoot == nil || !*nonRoot {
				t.Errorf("%s: runAsNonRoot is not true", where)
			}
			for _, uid := range []*int64{sc.RunAsUser, psc.RunAsUser} {
				if uid != nil && *uid == 0 {
					t.Errorf("%s: runAsUser 0", where)
				}
			}
			if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				t.Errorf("%s: readOnlyRootFilesystem is not true", where)
			}
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				t.Errorf("%s: allowPrivilegeEscalation is not false", where)
			}
			if sc.Privileged != nil && *sc.Privileged {
				t.Errorf("%s: privileged", where)
			}
			if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
				t.Errorf("%s: capabilities do not drop ALL", where)
			} else if len(sc.Capabilities.Add) > 0 {
				t.Errorf("%s: adds capabilities %v", where, sc.Capabilities.Add)
			}
			seccomp := sc.SeccompProfile
			if seccomp == nil {
				seccomp = psc.SeccompProfile
			}
			if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("%s: seccompProfile is not RuntimeDefault", where)
			}
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if _, ok := c.Resources.Requests[r]; !ok {
					t.Errorf("%s: no %s request", where, r)
				}
				if _, ok := c.Resources.Limits[r]; !ok {
					t.Errorf("%s: no %s limit", where, r)
				}
			}
			for r, req := range c.Resources.Requests {
				if lim, ok := c.Resources.Limits[r]; ok && req.Cmp(lim) > 0 {
					t.Errorf("%s: %s request %s is above its limit %s", where, r, req.String(), lim.String())
				}
			}
			if why := pinned(c.Image); why != "" {
				t.Errorf("%s: image %q is not pinned: %s", where, c.Image, why)
			}
		}
	}
}

// configValues is the ConfigMap every pod reads its settings from.
func configValues(t *testing.T, m *manifests, d *appsv1.Deployment) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, ef := range c.EnvFrom {
			if ef.ConfigMapRef == nil {
				continue
			}
			cm, ok := m.get("ConfigMap", ef.ConfigMapRef.Name).(*corev1.ConfigMap)
			if !ok {
				t.Errorf("Deployment %s: ConfigMap %s is not in the manifests", d.Name, ef.ConfigMapRef.Name)
				continue
			}
			for k, v := range cm.Data {
				out[k] = v
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				out[e.Name] = e.Value
			}
		}
	}
	return out
}

func TestWebTier(t *testing.T) {
	m := loadManifests(t)
	d, ok := m.get("Deployment", webName).(*appsv1.Deployment)
	if !ok {
		t.Fatalf("no Deployment %s", webName)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Errorf("Deployment %s: replicas %s, want at least 2", webName, optional(d.Spec.Replicas))
	}
	pod := &d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("Deployment %s: %d containers, want 1", webName, len(pod.Containers))
	}
	c := pod.Containers[0]
	// Two ports: the public one first, then the internal metrics port
	// (OMTX_METRICS_ADDR), which neither the Service nor the Ingress
	// reaches.
	if len(c.Ports) != 2 || c.Ports[1].Name != "metrics" {
		t.Fatalf("Deployment %s: ports %+v, want the public port and one named metrics", webName, c.Ports)
	}
	port, metricsPort := c.Ports[0], c.Ports[1]

	// The probes: readiness on /ready, liveness and startup on /health,
	// all on the container's port.
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"readiness", c.ReadinessProbe, "/ready"}, {"liveness", c.LivenessProbe, "/health"}, {"startup", c.StartupProbe, "/health"}} {
		switch {
		case p.probe == nil:
			t.Errorf("Deployment %s: no %s probe", webName, p.name)
		case p.probe.HTTPGet == nil:
			t.Errorf("Deployment %s: the %s probe is not an HTTP GET", webName, p.name)
		default:
			if p.probe.HTTPGet.Path != p.path {
				t.Errorf("Deployment %s: %s probe path %s, want %s", webName, p.name, p.probe.HTTPGet.Path, p.path)
			}
			if !portMatches(p.probe.HTTPGet.Port, port) {
				t.Errorf("Deployment %s: %s probe port %s is not the container port %d (%s)", webName, p.name,
					p.probe.HTTPGet.Port.String(), port.ContainerPort, port.Name)
			}
		}
	}

	// Settings: listen on every interface on the container port, no
	// in-process workers, production backends.
	cfg := configValues(t, m, d)
	if want := fmt.Sprintf("0.0.0.0:%d", port.ContainerPort); cfg["OMTX_ADDR"] != want {
		t.Errorf("Deployment %s: OMTX_ADDR %q, want %q", webName, cfg["OMTX_ADDR"], want)
	}
	if cfg["OMTX_WORKERS"] != "0" {
		t.Errorf("Deployment %s: OMTX_WORKERS %q, want 0 (runner Deployments run the models)", webName, cfg["OMTX_WORKERS"])
	}
	for key, prefix := range map[string]string{"OMTX_STORE": "firestore://", "OMTX_BLOB": "gs://", "OMTX_AUTH": "firebase"} {
		if !strings.HasPrefix(cfg[key], prefix) {
			t.Errorf("Deployment %s: %s %q, want %s...", webName, key, cfg[key], prefix)
		}
	}
	for _, model := range strings.Split(cfg["OMTX_MODELS"], ",") {
		if _, ok := runnerModels[model]; !ok {
			t.Errorf("OMTX_MODELS names %q, which has no runner Deployment", model)
		}
	}

	// The Service reaches the container port of the web pods.
	svc, ok := m.get("Service", webName).(*corev1.Service)
	if !ok {
		t.Fatalf("no Service %s", webName)
	}
	podLabels := labels.Set(d.Spec.Template.Labels)
	if len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) {
		t.Errorf("Service %s: selector %v does not select the web pods %v", webName, svc.Spec.Selector, podLabels)
	}
	if len(svc.Spec.Ports) == 0 {
		t.Fatalf("Service %s has no ports", webName)
	}
	for _, sp := range svc.Spec.Ports {
		if portMatches(sp.TargetPort, metricsPort) {
			t.Errorf("Service %s exposes the metrics port", webName)
		}
		if !portMatches(sp.TargetPort, port) {
			t.Errorf("Service %s: targetPort %s is not the container port %d (%s)", webName, sp.TargetPort.String(), port.ContainerPort, port.Name)
		}
	}

	// The Ingress sends traffic to that Service's port.
	for name, o := range m.kinds["Ingress"] {
		ing := o.(*networkingv1.Ingress)
		if len(ing.Spec.Rules) == 0 && ing.Spec.DefaultBackend == nil {
			t.Errorf("Ingress %s: no rules", name)
		}
		for _, r := range ing.Spec.Rules {
			if r.HTTP == nil {
				t.Errorf("Ingress %s: rule without http paths", name)
				continue
			}
			for _, p := range r.HTTP.Paths {
				b := p.Backend.Service
				if b == nil || b.Name != webName {
					t.Errorf("Ingress %s: path %s does not go to Service %s", name, p.Path, webName)
					continue
				}
				found := false
				for _, sp := range svc.Spec.Ports {
					found = found || (b.Port.Name != "" && b.Port.Name == sp.Name) || (b.Port.Number != 0 && b.Port.Number == sp.Port)
				}
				if !found {
					t.Errorf("Ingress %s: backend port %+v is not a port of Service %s", name, b.Port, webName)
				}
			}
		}
	}

	// The managed certificate covers exactly the Ingress hosts, and the
	// Ingress takes the static address the Terraform reserves.
	tf := loadTerraform(t)
	addresses := map[string]bool{}
	for _, r := range tf.resources["google_compute_global_address"] {
		if n, ok := attrString(r.body, "name"); ok {
			addresses[n] = true
		}
	}
	for name, o := range m.kinds["Ingress"] {
		ing := o.(*networkingv1.Ingress)
		if ip := ing.Annotations["kubernetes.io/ingress.global-static-ip-name"]; !addresses[ip] {
			t.Errorf("Ingress %s: static address %q is not a google_compute_global_address of the Terraform (%v)", name, ip, addresses)
		}
		var hosts []string
		for _, r := range ing.Spec.Rules {
			hosts = append(hosts, r.Host)
		}
		var domains []string
		for _, c := range strings.Split(ing.Annotations["networking.gke.io/managed-certificates"], ",") {
			u, ok := m.get("ManagedCertificate", strings.TrimSpace(c)).(map[string]any)
			if !ok {
				t.Errorf("Ingress %s: ManagedCertificate %q is not in the manifests", name, c)
				continue
			}
			ds, _ := lookup(u, "spec.domains")
			for _, d := range ds.([]any) {
				domains = append(domains, fmt.Sprint(d))
			}
		}
		slices.Sort(hosts)
		slices.Sort(domains)
		if !slices.Equal(hosts, domains) {
			t.Errorf("Ingress %s: hosts %v, but the managed certificate covers %v", name, hosts, domains)
		}
	}

	// The PodDisruptionBudget protects the web pods.
	pdbFound := false
	for name, o := range m.kinds["PodDisruptionBudget"] {
		pdb := o.(*policyv1.PodDisruptionBudget)
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil {
			t.Errorf("PodDisruptionBudget %s: %v", name, err)
			continue
		}
		if pdb.Spec.Selector != nil && !sel.Empty() && sel.Matches(podLabels) {
			pdbFound = true
			if pdb.Spec.MinAvailable == nil && pdb.Spec.MaxUnavailable == nil {
				t.Errorf("PodDisruptionBudget %s: neither minAvailable nor maxUnavailable", name)
			}
		}
	}
	if !pdbFound {
		t.Errorf("no PodDisruptionBudget selects the web pods %v", podLabels)
	}

	// The HorizontalPodAutoscaler scales the web Deployment on CPU.
	hpaFound := false
	for name, o := range m.kinds["HorizontalPodAutoscaler"] {
		hpa := o.(*autoscalingv2.HorizontalPodAutoscaler)
		if hpa.Spec.ScaleTargetRef.Kind != "Deployment" || hpa.Spec.ScaleTargetRef.Name != webName {
			continue
		}
		hpaFound = true
		if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 2 || hpa.Spec.MaxReplicas < *hpa.Spec.MinReplicas {
			t.Errorf("HorizontalPodAutoscaler %s: replicas %s..%d, want a minimum of at least 2", name, optional(hpa.Spec.MinReplicas), hpa.Spec.MaxReplicas)
		}
		cpu := false
		for _, mt := range hpa.Spec.Metrics {
			cpu = cpu || (mt.Type == autoscalingv2.ResourceMetricSourceType && mt.Resource != nil && mt.Resource.Name == corev1.ResourceCPU)
		}
		if !cpu {
			t.Errorf("HorizontalPodAutoscaler %s: no CPU metric", name)
		}
	}
	if !hpaFound {
		t.Errorf("no HorizontalPodAutoscaler targets Deployment %s", webName)
	}

	// Managed Prometheus scrapes /metrics of the web pods on their metrics
	// port.
	pmFound := false
	for name, o := range m.kinds["PodMonitoring"] {
		u := o.(map[string]any)
		sel, _ := lookup(u, "spec.selector.matchLabels")
		set := labels.Set{}
		for k, v := range sel.(map[string]any) {
			set[k] = fmt.Sprint(v)
		}
		if !labels.SelectorFromSet(set).Matches(podLabels) {
			continue
		}
		pmFound = true
		eps, _ := lookup(u, "spec.endpoints")
		for _, ep := range eps.([]any) {
			e := ep.(map[string]any)
			if p := fmt.Sprint(e["port"]); p != metricsPort.Name && p != strconv.Itoa(int(metricsPort.ContainerPort)) {
				t.Errorf("PodMonitoring %s: port %s is not the web container's metrics port", name, p)
			}
			if e["path"] != "/metrics" {
				t.Errorf("PodMonitoring %s: path %v, want /metrics", name, e["path"])
			}
		}
	}
	if !pmFound {
		t.Error("no PodMonitoring scrapes the web pods: KEDA would have no queue depth to read")
	}
}

func portMatches(p intstr.IntOrString, cp corev1.ContainerPort) bool {
	if p.Type == intstr.String {
		return p.StrVal != "" && p.StrVal == cp.Name
	}
	return p.IntVal == cp.ContainerPort
}

// gsaEmail matches a Google service account's address; the project may be
// the PROJECT_ID placeholder that deploy/README.md says to replace.
var gsaEmail = regexp.MustCompile(`^([a-z][-a-z0-9]{4,28}[a-z0-9])@([a-z][-a-z0-9]{4,28}[a-z0-9]|PROJECT_ID)\.iam\.gserviceaccount\.com$`)

func TestServiceAccountsUseWorkloadIdentity(t *testing.T) {
	m := loadManifests(t)
	tf := loadTerraform(t)
	gsas := map[string]bool{}
	for _, r := range tf.resources["google_service_account"] {
		if id, ok := attrString(r.body, "account_id"); ok {
			gsas[id] = true
		}
	}
	wiMembers := tf.attrTexts("google_service_account_iam_member", "member")
	used := map[string]string{} // ServiceAccount -> a Deployment that uses it
	for name, d := range m.deployments() {
		san := d.Spec.Template.Spec.ServiceAccountName
		if san == "" || san == "default" {
			t.Errorf("Deployment %s: no serviceAccountName of its own", name)
			continue
		}
		used[san] = name
		if d.Spec.Template.Spec.AutomountServiceAccountToken == nil || *d.Spec.Template.Spec.AutomountServiceAccountToken {
			t.Errorf("Deployment %s: automountServiceAccountToken is not false (the pods never call the Kubernetes API)", name)
		}
	}
	for san, dep := range used {
		sa, ok := m.get("ServiceAccount", san).(*corev1.ServiceAccount)
		if !ok {
			t.Errorf("Deployment %s: ServiceAccount %s is not in the manifests", dep, san)
			continue
		}
		email := sa.Annotations[wiAnnotation]
		match := gsaEmail.FindStringSubmatch(email)
		if match == nil {
			t.Errorf("ServiceAccount %s: annotation %s %q is not a Google service account", san, wiAnnotation, email)
			continue
		}
		if !gsas[match[1]] {
			t.Errorf("ServiceAccount %s: Google service account %s is not made by the Terraform (account_ids %v)", san, match[1], gsas)
		}
		bound := false
		for _, mem := range wiMembers {
			bound = bound || strings.Contains(mem, "/"+san+"]")
		}
		if !bound {
			t.Errorf("ServiceAccount %s: no Workload Identity binding ([%s/%s]) in the Terraform", san, namespace, san)
		}
	}
}

// queueMetric is the Prometheus metric, read from the metrics package's
// source, that counts a model's queue: a gauge labelled by model whose
// name says queue, or else the job count by model and status. status says
// whether it has a status label.
func queueMetric(t *testing.T) (name string, status bool) {
	t.Helper()
	type metric struct {
		name   string
		labels []string
	}
	var found []metric
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(metricsDir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no metrics sources in %s: %v", metricsDir, err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			switch {
			case sel.Sel.Name == "NewDesc" && len(call.Args) >= 3:
				// prometheus.NewDesc(name, help, labels, constLabels)
				if s, ok := stringLit(call.Args[0]); ok {
					found = append(found, metric{s, stringSlice(call.Args[2])})
				}
			case strings.HasPrefix(sel.Sel.Name, "New") && strings.HasSuffix(sel.Sel.Name, "Vec") && len(call.Args) == 2:
				// prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: ...}, labels)
				if lit, ok := call.Args[0].(*ast.CompositeLit); ok {
					for _, el := range lit.Elts {
						if kv, ok := el.(*ast.KeyValueExpr); ok {
							if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Name" {
								if s, ok := stringLit(kv.Value); ok {
									found = append(found, metric{s, stringSlice(call.Args[1])})
								}
							}
						}
					}
				}
			}
			return true
		})
	}
	var queue, byStatus []metric
	for _, mt := range found {
		if !slices.Contains(mt.labels, "model") || strings.HasSuffix(mt.name, "_total") || strings.HasSuffix(mt.name, "_seconds") {
			continue
		}
		if strings.Contains(mt.name, "queue") {
			queue = append(queue, mt)
		} else if slices.Contains(mt.labels, "status") {
			byStatus = append(byStatus, mt)
		}
	}
	switch {
	case len(queue) == 1:
		return queue[0].name, slices.Contains(queue[0].labels, "status")
	case len(queue) == 0 && len(byStatus) == 1:
		return byStatus[0].name, true
	}
	t.Fatalf("cannot tell the per-model queue metric in %s: queue gauges by model %v, job gauges by model and status %v", metricsDir, queue, byStatus)
	return "", false
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

func stringSlice(e ast.Expr) []string {
	lit, ok := e.(*ast.CompositeLit)
	if !ok {
		return nil
	}
	var out []string
	for _, el := range lit.Elts {
		if s, ok := stringLit(el); ok {
			out = append(out, s)
		}
	}
	return out
}

func TestQueueMetricIsFound(t *testing.T) {
	name, _ := queueMetric(t)
	if !strings.HasPrefix(name, "omtx_") {
		t.Errorf("queue metric %q does not have the omtx_ prefix", name)
	}
}

func TestRunners(t *testing.T) {
	m := loadManifests(t)
	tf := loadTerraform(t)
	metric, byStatus := queueMetric(t)
	leaseTTL := 2 * time.Minute // main.go's default
	if cm, ok := m.get("ConfigMap", "omtx-config").(*corev1.ConfigMap); ok && cm.Data["OMTX_LEASE_TTL"] != "" {
		d, err := time.ParseDuration(cm.Data["OMTX_LEASE_TTL"])
		if err != nil {
			t.Errorf("OMTX_LEASE_TTL: %v", err)
		} else {
			leaseTTL = d
		}
	}
	gpuMax := tf.variableDefault(t, "gpu_max_nodes")
	auths := m.kinds["TriggerAuthentication"]

	targeted := map[string]string{} // Deployment -> ScaledObject
	for name, o := range m.kinds["ScaledObject"] {
		so := o.(*scaledObject)
		ref := so.Spec.ScaleTargetRef
		if (ref.Kind != "" && ref.Kind != "Deployment") || m.get("Deployment", ref.Name) == nil {
			t.Errorf("ScaledObject %s: target %s %s is not a Deployment in the manifests", name, ref.Kind, ref.Name)
		}
		if prev, dup := targeted[ref.Name]; dup {
			t.Errorf("ScaledObjects %s and %s both scale %s", prev, name, ref.Name)
		}
		targeted[ref.Name] = name
	}

	for model, gpu := range runnerModels {
		t.Run(model, func(t *testing.T) {
			name := "omtx-runner-" + model
			d, ok := m.get("Deployment", name).(*appsv1.Deployment)
			if !ok {
				t.Fatalf("no Deployment %s", name)
			}
			if d.Spec.Replicas != nil {
				t.Errorf("Deployment %s: replicas is set (%d); leave it to KEDA or every apply resets the scale", name, *d.Spec.Replicas)
			}
			pod := &d.Spec.Template.Spec
			if len(pod.Containers) != 1 {
				t.Fatalf("Deployment %s: %d containers, want 1", name, len(pod.Containers))
			}
			c := pod.Containers[0]
			if repo, _, _ := splitImage(c.Image); repo != "omtx-"+model {
				t.Errorf("Deployment %s: image %s, want omtx-%s:TAG", name, c.Image, model)
			}
			if len(c.Command) > 0 || len(c.Args) > 0 {
				t.Errorf("Deployment %s: command/args override the image's `omtx worker --models %s`", name, model)
			}
			if len(c.Ports) > 0 {
				t.Errorf("Deployment %s: runners serve nothing, yet it declares ports", name)
			}
			grace := int64(30)
			if pod.TerminationGracePeriodSeconds != nil {
				grace = *pod.TerminationGracePeriodSeconds
			}
			if time.Duration(grace)*time.Second < leaseTTL {
				t.Errorf("Deployment %s: terminationGracePeriodSeconds %d is shorter than the lease term %s", name, grace, leaseTTL)
			}

			// Image: `omtx worker --models MODEL`, and a writable volume at
			// every cache folder the image names.
			df := parseDockerfile(t, filepath.Join(dockerDir, model+".Dockerfile"))
			final := df.final()
			if ep := final.entrypoint(t); !containsSeq(ep, "worker", "--models", model) {
				t.Errorf("%s.Dockerfile: ENTRYPOINT %q does not run `omtx worker --models %s`", model, ep, model)
			}
			mounts := map[string]bool{}
			for _, vm := range c.VolumeMounts {
				mounts[vm.MountPath] = true
			}
			env := final.env()
			for _, key := range []string{"OMTX_DATA_DIR", "OMTX_BOLTZ_CACHE", "CHAI_DOWNLOADS_DIR"} {
				if dir := env[key]; dir != "" && !mounts[dir] {
					t.Errorf("Deployment %s: no volume mounted at %s (%s of the image); the root file system is read-only", name, dir, key)
				}
			}

			sel := pod.NodeSelector
			limit, hasGPU := c.Resources.Limits[gpuResource]
			tolerates := false
			for _, tol := range pod.Tolerations {
				tolerates = tolerates || (tol.Key == string(gpuResource) && tol.Effect == corev1.TaintEffectNoSchedule &&
					(tol.Operator == corev1.TolerationOpExists || tol.Operator == corev1.TolerationOpEqual))
			}
			if gpu {
				if sel[acceleratorLabel] != gpuAccelerator {
					t.Errorf("Deployment %s: nodeSelector %s=%q, want %s", name, acceleratorLabel, sel[acceleratorLabel], gpuAccelerator)
				}
				if !hasGPU || limit.Value() != 1 {
					t.Errorf("Deployment %s: limits %s=%v, want 1", name, gpuResource, limit.String())
				}
				if !tolerates {
					t.Errorf("Deployment %s: does not tolerate the %s:NoSchedule taint of the GPU nodes", name, gpuResource)
				}
				weights := ""
				for _, key := range []string{"OMTX_BOLTZ_CACHE", "CHAI_DOWNLOADS_DIR"} {
					if env[key] != "" {
						weights = env[key]
					}
				}
				if weights == "" {
					t.Errorf("%s.Dockerfile: names no weights cache folder (OMTX_BOLTZ_CACHE or CHAI_DOWNLOADS_DIR)", model)
				}
			} else {
				if hasGPU || tolerates || sel[acceleratorLabel] != "" {
					t.Errorf("Deployment %s: a CPU runner asks for a GPU node", name)
				}
			}
			// KEDA scales it on the model's queue, down to zero.
			soName, ok := targeted[name]
			if !ok {
				t.Fatalf("no ScaledObject targets Deployment %s", name)
			}
			so := m.get("ScaledObject", soName).(*scaledObject)
			if so.Spec.MinReplicaCount == nil || *so.Spec.MinReplicaCount != 0 {
				t.Errorf("ScaledObject %s: minReplicaCount %s, want 0", soName, optional(so.Spec.MinReplicaCount))
			}
			if so.Spec.MaxReplicaCount == nil || *so.Spec.MaxReplicaCount < 1 {
				t.Errorf("ScaledObject %s: maxReplicaCount %s, want at least 1", soName, optional(so.Spec.MaxReplicaCount))
			} else if gpu && gpuMax > 0 && int(*so.Spec.MaxReplicaCount) > gpuMax {
				t.Errorf("ScaledObject %s: maxReplicaCount %d is above the GPU pool's gpu_max_nodes %d", soName, *so.Spec.MaxReplicaCount, gpuMax)
			}
			prom := 0
			for _, tr := range so.Spec.Triggers {
				if tr.Type != "prometheus" {
					continue
				}
				prom++
				q := tr.Metadata["query"]
				if !regexp.MustCompile(`\b` + regexp.QuoteMeta(metric) + `\{`).MatchString(q) {
					t.Errorf("ScaledObject %s: query %q does not read %s{...} (the queue metric of package metrics)", soName, q, metric)
				}
				if !strings.Contains(q, `model="`+model+`"`) {
					t.Errorf("ScaledObject %s: query %q is not for model=%q", soName, q, model)
				}
				if byStatus && !strings.Contains(q, string(jobs.StatusPending)) {
					t.Errorf("ScaledObject %s: query %q does not count %s jobs", soName, q, jobs.StatusPending)
				}
				if ns := `namespace="` + namespace + `"`; !strings.Contains(q, ns) {
					t.Errorf("ScaledObject %s: query %q does not keep to %s", soName, q, ns)
				}
				if !strings.HasPrefix(tr.Metadata["serverAddress"], "https://") && !strings.HasPrefix(tr.Metadata["serverAddress"], "http://") {
					t.Errorf("ScaledObject %s: serverAddress %q is not a URL", soName, tr.Metadata["serverAddress"])
				}
				if v, err := strconv.ParseFloat(tr.Metadata["threshold"], 64); err != nil || v <= 0 {
					t.Errorf("ScaledObject %s: threshold %q is not a positive number", soName, tr.Metadata["threshold"])
				}
				if a := tr.Metadata["activationThreshold"]; a != "" {
					if _, err := strconv.ParseFloat(a, 64); err != nil {
						t.Errorf("ScaledObject %s: activationThreshold %q is not a number", soName, a)
					}
				}
				if tr.AuthenticationRef == nil || auths[tr.AuthenticationRef.Name] == nil {
					t.Errorf("ScaledObject %s: authenticationRef does not name a TriggerAuthentication in the manifests", soName)
				}
			}
			if prom != 1 {
				t.Errorf("ScaledObject %s: %d prometheus triggers, want 1", soName, prom)
			}
		})
	}
}

func optional(n *int32) string {
	if n == nil {
		return "unset"
	}
	return strconv.Itoa(int(*n))
}

func containsSeq(s []string, seq ...string) bool {
	for i := 0; i+len(seq) <= len(s); i++ {
		if slices.Equal(s[i:i+len(seq)], seq) {
			return true
		}
	}
	return false
}

func TestNetworkPolicies(t *testing.T) {
	m := loadManifests(t)
	web := m.get("Deployment", webName).(*appsv1.Deployment)
	webPort := web.Spec.Template.Spec.Containers[0].Ports[0]
	metricsPort, hasMetrics := containerPort(web, "metrics")
	if !hasMetrics {
		t.Fatalf("the web container has no port named metrics")
	}
	if got := envOf(web, "OMTX_METRICS_ADDR"); !strings.HasSuffix(got, fmt.Sprintf(":%d", metricsPort.ContainerPort)) {
		t.Errorf("OMTX_METRICS_ADDR %q does not listen on the metrics port %d", got, metricsPort.ContainerPort)
	}
	denyIngress, denyEgress, webAllowed, https := false, false, false, false
	for name, o := range m.kinds["NetworkPolicy"] {
		np := o.(*networkingv1.NetworkPolicy)
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil {
			t.Errorf("NetworkPolicy %s: %v", name, err)
			continue
		}
		types := np.Spec.PolicyTypes
		if sel.Empty() && slices.Contains(types, networkingv1.PolicyTypeIngress) && len(np.Spec.Ingress) == 0 {
			denyIngress = true
		}
		if sel.Empty() && slices.Contains(types, networkingv1.PolicyTypeEgress) && len(np.Spec.Egress) == 0 {
			denyEgress = true
		}
		for dname, d := range m.deployments() {
			if !sel.Matches(labels.Set(d.Spec.Template.Labels)) || len(np.Spec.Ingress) == 0 {
				continue
			}
			if dname != webName {
				t.Errorf("NetworkPolicy %s lets traffic into %s; runners accept no ingress", name, dname)
				continue
			}
			for _, r := range np.Spec.Ingress {
				for _, p := range r.Ports {
					switch {
					case p.Port != nil && portMatches(*p.Port, webPort):
						webAllowed = true
					case p.Port != nil && portMatches(*p.Port, metricsPort):
						// The metrics port is for the collectors only.
						for _, from := range r.From {
							ns := from.NamespaceSelector
							if ns == nil || ns.MatchLabels["kubernetes.io/metadata.name"] != "gmp-system" {
								t.Errorf("NetworkPolicy %s: the metrics port is open to %+v, not only to Managed Prometheus", name, from)
							}
						}
						if len(r.From) == 0 {
							t.Errorf("NetworkPolicy %s: the metrics port is open to everyone", name)
						}
					default:
						t.Errorf("NetworkPolicy %s: opens port %v of the web pods, which listen on %d and %d", name, p.Port,
							webPort.ContainerPort, metricsPort.ContainerPort)
					}
				}
				if len(r.Ports) == 0 {
					t.Errorf("NetworkPolicy %s: an ingress rule for the web pods without ports opens every port", name)
				}
			}
		}
		for _, r := range np.Spec.Egress {
			for _, p := range r.Ports {
				if p.Port != nil && p.Port.IntValue() == 443 {
					https = true
				}
			}
		}
	}
	if !denyIngress {
		t.Error("no default-deny ingress NetworkPolicy (empty podSelector, Ingress, no rules)")
	}
	if !denyEgress {
		t.Error("no default-deny egress NetworkPolicy (empty podSelector, Egress, no rules)")
	}
	if !webAllowed {
		t.Errorf("no NetworkPolicy lets the load balancer reach the web pods on %d", webPort.ContainerPort)
	}
	if !https {
		t.Error("no NetworkPolicy allows HTTPS egress: the pods could not reach Google APIs")
	}
}

// ---------------------------------------------------------------------------
// Terraform

type tfResource struct {
	typ, name, file string
	body            *hclsyntax.Body
}

type terraform struct {
	resources map[string][]tfResource
	variables map[string]*hclsyntax.Body
	blocks    map[string][]*hclsyntax.Body // top-level blocks by type (terraform, provider, ...)
	nodePools map[string]bool              // names of google_container_node_pool
}

// loadTerraform parses every .tf file under deploy/terraform with the HCL
// parser (the one Terraform uses).
func loadTerraform(t *testing.T) *terraform {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(terraformDir, "*.tf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no .tf files in %s: %v", terraformDir, err)
	}
	p := hclparse.NewParser()
	tf := &terraform{resources: map[string][]tfResource{}, variables: map[string]*hclsyntax.Body{},
		blocks: map[string][]*hclsyntax.Body{}, nodePools: map[string]bool{}}
	for _, f := range files {
		file, diags := p.ParseHCLFile(f)
		if diags.HasErrors() {
			t.Fatalf("%s: %s", f, diags.Error())
		}
		body := file.Body.(*hclsyntax.Body)
		for _, b := range body.Blocks {
			tf.blocks[b.Type] = append(tf.blocks[b.Type], b.Body)
			switch b.Type {
			case "resource":
				if len(b.Labels) != 2 {
					t.Errorf("%s: resource with labels %v", f, b.Labels)
					continue
				}
				tf.resources[b.Labels[0]] = append(tf.resources[b.Labels[0]], tfResource{b.Labels[0], b.Labels[1], f, b.Body})
				if b.Labels[0] == "google_container_node_pool" {
					if n, ok := attrString(b.Body, "name"); ok {
						tf.nodePools[n] = true
					}
				}
			case "variable":
				tf.variables[b.Labels[0]] = b.Body
			}
		}
	}
	return tf
}

// attrValue evaluates a literal attribute; ok is false when it is absent
// or refers to something (a variable, another resource).
func attrValue(body *hclsyntax.Body, name string) (cty.Value, bool) {
	a, ok := body.Attributes[name]
	if !ok {
		return cty.NilVal, false
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() || !v.IsWhollyKnown() {
		return cty.NilVal, false
	}
	return v, true
}

func attrString(body *hclsyntax.Body, name string) (string, bool) {
	v, ok := attrValue(body, name)
	if !ok || v.Type() != cty.String || v.IsNull() {
		return "", false
	}
	return v.AsString(), true
}

// attrSource is an attribute's source text, for attributes that refer to
// other things.
func attrSource(body *hclsyntax.Body, name string) string {
	a, ok := body.Attributes[name]
	if !ok {
		return ""
	}
	src, err := os.ReadFile(a.SrcRange.Filename)
	if err != nil {
		return ""
	}
	r := a.Expr.Range()
	return string(src[r.Start.Byte:r.End.Byte])
}

// attrTexts returns the source of one attribute across every resource of a type.
func (tf *terraform) attrTexts(typ, attr string) []string {
	var out []string
	for _, r := range tf.resources[typ] {
		out = append(out, attrSource(r.body, attr))
	}
	return out
}

func (tf *terraform) variableDefault(t *testing.T, name string) int {
	t.Helper()
	b, ok := tf.variables[name]
	if !ok {
		t.Errorf("no variable %q in the Terraform", name)
		return 0
	}
	v, ok := attrValue(b, "default")
	if !ok || v.Type() != cty.Number {
		return 0
	}
	n, _ := v.AsBigFloat().Int64()
	return int(n)
}

func blocks(body *hclsyntax.Body, typ string) []*hclsyntax.Body {
	var out []*hclsyntax.Body
	for _, b := range body.Blocks {
		if b.Type == typ {
			out = append(out, b.Body)
		}
	}
	return out
}

func TestTerraform(t *testing.T) {
	for _, f := range []string{"versions.tf", "variables.tf", "outputs.tf"} {
		if _, err := os.Stat(filepath.Join(terraformDir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	tf := loadTerraform(t)

	// Providers: each with a source and a version constraint with an upper
	// bound (an exact version or ~>), never open-ended.
	providers := 0
	for _, tb := range tf.blocks["terraform"] {
		if _, ok := tb.Attributes["required_version"]; !ok {
			t.Error("terraform block: no required_version")
		}
		for _, rp := range blocks(tb, "required_providers") {
			for name, a := range rp.Attributes {
				providers++
				v, diags := a.Expr.Value(nil)
				if diags.HasErrors() || !v.Type().IsObjectType() {
					t.Errorf("required_providers.%s: not an object with source and version", name)
					continue
				}
				for _, key := range []string{"source", "version"} {
					if !v.Type().HasAttribute(key) || v.GetAttr(key).IsNull() || v.GetAttr(key).AsString() == "" {
						t.Errorf("required_providers.%s: no %s", name, key)
					}
				}
				if v.Type().HasAttribute("version") && !v.GetAttr("version").IsNull() {
					if c := v.GetAttr("version").AsString(); !pinnedConstraint(c) {
						t.Errorf("required_providers.%s: version %q is not pinned (use an exact version or ~>)", name, c)
					}
				}
			}
		}
	}
	if providers == 0 {
		t.Error("no required_providers")
	}

	want := func(typ string, n int) []tfResource {
		rs := tf.resources[typ]
		if len(rs) < n {
			t.Errorf("%d %s, want at least %d", len(rs), typ, n)
		}
		return rs
	}

	for _, c := range want("google_container_cluster", 1) {
		wi := blocks(c.body, "workload_identity_config")
		if len(wi) == 0 || attrSource(wi[0], "workload_pool") == "" {
			t.Errorf("google_container_cluster.%s: Workload Identity is off (no workload_identity_config.workload_pool)", c.name)
		}
		if rc := blocks(c.body, "release_channel"); len(rc) == 0 || attrSource(rc[0], "channel") == "" {
			t.Errorf("google_container_cluster.%s: no release_channel", c.name)
		}
		if v, _ := attrString(c.body, "datapath_provider"); v != "ADVANCED_DATAPATH" {
			t.Errorf("google_container_cluster.%s: datapath_provider %q; NetworkPolicy needs Dataplane V2 (ADVANCED_DATAPATH)", c.name, v)
		}
		mp := false
		for _, mc := range blocks(c.body, "monitoring_config") {
			for _, p := range blocks(mc, "managed_prometheus") {
				v, ok := attrValue(p, "enabled")
				mp = mp || (ok && v.Type() == cty.Bool && v.True())
			}
		}
		if !mp {
			t.Errorf("google_container_cluster.%s: Managed Prometheus is off; KEDA reads the queue depth from it", c.name)
		}
	}

	gpuPools := 0
	for _, np := range want("google_container_node_pool", 2) {
		for _, nc := range blocks(np.body, "node_config") {
			for _, ga := range blocks(nc, "guest_accelerator") {
				if typ, _ := attrString(ga, "type"); typ != gpuAccelerator {
					continue
				}
				gpuPools++
				min0 := false
				for _, as := range blocks(np.body, "autoscaling") {
					for _, key := range []string{"min_node_count", "total_min_node_count"} {
						if v, ok := attrValue(as, key); ok && v.Type() == cty.Number && v.AsBigFloat().Sign() == 0 {
							min0 = true
						}
					}
					if attrSource(as, "max_node_count") == "" && attrSource(as, "total_max_node_count") == "" {
						t.Errorf("google_container_node_pool.%s: autoscaling without a maximum", np.name)
					}
				}
				if !min0 {
					t.Errorf("google_container_node_pool.%s: the GPU pool does not autoscale from 0 nodes", np.name)
				}
				tainted := false
				for _, taint := range blocks(nc, "taint") {
					k, _ := attrString(taint, "key")
					e, _ := attrString(taint, "effect")
					tainted = tainted || (k == string(gpuResource) && e == "NO_SCHEDULE")
				}
				if !tainted {
					t.Errorf("google_container_node_pool.%s: the GPU pool has no %s NO_SCHEDULE taint", np.name, gpuResource)
				}
			}
			wm := blocks(nc, "workload_metadata_config")
			if len(wm) == 0 {
				t.Errorf("google_container_node_pool.%s: no workload_metadata_config (GKE_METADATA for Workload Identity)", np.name)
			} else if mode, _ := attrString(wm[0], "mode"); mode != "GKE_METADATA" {
				t.Errorf("google_container_node_pool.%s: workload metadata mode %q, want GKE_METADATA", np.name, mode)
			}
		}
	}
	if gpuPools != 1 {
		t.Errorf("%d node pools with guest_accelerator %s, want 1", gpuPools, gpuAccelerator)
	}

	for _, db := range want("google_firestore_database", 1) {
		if v, _ := attrString(db.body, "type"); v != "FIRESTORE_NATIVE" {
			t.Errorf("google_firestore_database.%s: type %q, want FIRESTORE_NATIVE", db.name, v)
		}
	}
	for _, b := range want("google_storage_bucket", 1) {
		if len(blocks(b.body, "lifecycle_rule")) == 0 {
			t.Errorf("google_storage_bucket.%s: no lifecycle_rule", b.name)
		}
		if v, ok := attrValue(b.body, "uniform_bucket_level_access"); !ok || !v.True() {
			t.Errorf("google_storage_bucket.%s: uniform_bucket_level_access is not true", b.name)
		}
		if v, _ := attrString(b.body, "public_access_prevention"); v != "enforced" {
			t.Errorf("google_storage_bucket.%s: public_access_prevention %q, want enforced", b.name, v)
		}
	}
	for _, r := range want("google_artifact_registry_repository", 1) {
		if v, _ := attrString(r.body, "format"); v != "DOCKER" {
			t.Errorf("google_artifact_registry_repository.%s: format %q, want DOCKER", r.name, v)
		}
	}
	want("google_service_account", 2)

	// Least-privilege roles: what the web tier and runners need, and no
	// project-wide owner or editor.
	roles := map[string]bool{}
	for _, typ := range []string{"google_project_iam_member", "google_storage_bucket_iam_member",
		"google_service_account_iam_member", "google_artifact_registry_repository_iam_member"} {
		for _, r := range tf.resources[typ] {
			role, _ := attrString(r.body, "role")
			roles[typ+" "+role] = true
			if role == "roles/owner" || role == "roles/editor" || role == "roles/storage.admin" {
				t.Errorf("%s.%s: %s is not least privilege", typ, r.name, role)
			}
		}
	}
	for _, need := range []string{
		"google_project_iam_member roles/datastore.user",
		"google_storage_bucket_iam_member roles/storage.objectAdmin",
		"google_service_account_iam_member roles/iam.serviceAccountTokenCreator",
		"google_service_account_iam_member roles/iam.workloadIdentityUser",
	} {
		if !roles[need] {
			t.Errorf("no %s", need)
		}
	}
	for _, typ := range []string{"google_project_iam_binding", "google_project_iam_policy"} {
		if len(tf.resources[typ]) > 0 {
			t.Errorf("%s is authoritative and would remove other members; use google_project_iam_member", typ)
		}
	}

	// The node pools the manifests select exist.
	m := loadManifests(t)
	for name, d := range m.deployments() {
		if pool := d.Spec.Template.Spec.NodeSelector[nodePoolLabel]; pool != "" && !tf.nodePools[pool] {
			t.Errorf("Deployment %s: node pool %q is not in the Terraform (%v)", name, pool, tf.nodePools)
		}
	}
}

// pinnedConstraint says whether a Terraform version constraint has an
// upper bound: "1.2.3", "= 1.2.3", "~> 7.10", or a range with "<".
func pinnedConstraint(c string) bool {
	c = strings.TrimSpace(c)
	if c == "" {
		return false
	}
	for _, part := range strings.Split(c, ",") {
		p := strings.TrimSpace(part)
		if strings.HasPrefix(p, "~>") || strings.HasPrefix(p, "<") || strings.HasPrefix(p, "=") ||
			(p != "" && p[0] >= '0' && p[0] <= '9') {
			return true
		}
	}
	return false
}

func TestPinnedConstraint(t *testing.T) {
	for c, want := range map[string]bool{"7.10.0": true, "= 7.10.0": true, "~> 7.10": true, ">= 7.0, < 8.0": true,
		">= 7.0": false, "": false, "> 1": false} {
		if got := pinnedConstraint(c); got != want {
			t.Errorf("pinnedConstraint(%q) = %v, want %v", c, got, want)
		}
	}
}

// ---------------------------------------------------------------------------
// Dockerfiles

type instruction struct {
	cmd  string // upper case
	args string
	line int
}

type stage struct {
	from, name string
	ins        []instruction
}

type dockerfile struct {
	path   string
	stages []*stage
}

func (d *dockerfile) final() *stage { return d.stages[len(d.stages)-1] }

// parseDockerfile reads instructions, joining continued lines and leaving
// out comments.
func parseDockerfile(t *testing.T, path string) *dockerfile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := &dockerfile{path: path}
	var cur strings.Builder
	start := 0
	flush := func() {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			return
		}
		cmd, args, _ := strings.Cut(text, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			var s stage
			for len(f) > 0 && strings.HasPrefix(f[0], "--") {
				f = f[1:]
			}
			if len(f) > 0 {
				s.from = f[0]
			}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			}
			d.stages = append(d.stages, &s)
		}
		if len(d.stages) == 0 {
			if in.cmd != "ARG" {
				t.Errorf("%s:%d: %s before the first FROM", path, in.line, in.cmd)
			}
			return
		}
		s := d.stages[len(d.stages)-1]
		s.ins = append(s.ins, in)
	}
	for i, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur.WriteString(strings.TrimSuffix(trimmed, `\`) + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	flush()
	if len(d.stages) == 0 {
		t.Fatalf("%s: no FROM", path)
	}
	return d
}

func (s *stage) last(cmd string) (instruction, bool) {
	for i := len(s.ins) - 1; i >= 0; i-- {
		if s.ins[i].cmd == cmd {
			return s.ins[i], true
		}
	}
	return instruction{}, false
}

func (s *stage) entrypoint(t *testing.T) []string {
	in, ok := s.last("ENTRYPOINT")
	if !ok {
		return nil
	}
	var argv []string
	if err := json.Unmarshal([]byte(in.args), &argv); err != nil {
		t.Errorf("line %d: ENTRYPOINT is not in exec (JSON) form: %v", in.line, err)
	}
	return argv
}

// env returns the stage's ENV settings (KEY=VALUE form).
func (s *stage) env() map[string]string {
	out := map[string]string{}
	for _, in := range s.ins {
		if in.cmd != "ENV" {
			continue
		}
		for _, f := range strings.Fields(in.args) {
			if k, v, ok := strings.Cut(f, "="); ok {
				out[k] = strings.Trim(v, `"`)
			}
		}
	}
	return out
}

// user returns the uid of the stage's last USER, or -1.
func (s *stage) user(t *testing.T, path string) int64 {
	in, ok := s.last("USER")
	if !ok {
		return -1
	}
	uid, _, _ := strings.Cut(in.args, ":")
	n, err := strconv.ParseInt(uid, 10, 64)
	if err != nil {
		t.Errorf("%s:%d: USER %s is not numeric (Kubernetes can check runAsNonRoot only for a numeric uid)", path, in.line, in.args)
		return -1
	}
	return n
}

func TestDockerfiles(t *testing.T) {
	m := loadManifests(t)
	images := map[string]string{"web": "omtx-web"}
	for model := range runnerModels {
		images[model] = "omtx-" + model
	}
	files, _ := filepath.Glob(filepath.Join(dockerDir, "*.Dockerfile"))
	if len(files) != len(images) {
		t.Errorf("%d Dockerfiles in %s, want %d (%v)", len(files), dockerDir, len(images), images)
	}
	for base, image := range images {
		t.Run(base, func(t *testing.T) {
			path := filepath.Join(dockerDir, base+".Dockerfile")
			d := parseDockerfile(t, path)
			stageNames := map[string]bool{}
			for _, s := range d.stages {
				if !stageNames[s.from] {
					if strings.Contains(s.from, "$") {
						t.Errorf("%s: FROM %s: pin the base image literally, not through an ARG", path, s.from)
					} else if why := pinned(s.from); why != "" {
						t.Errorf("%s: base image %s is not pinned: %s", path, s.from, why)
					}
				}
				stageNames[s.name] = true
			}
			final := d.final()
			uid := final.user(t, path)
			if uid <= 0 {
				t.Errorf("%s: the final stage has no non-root numeric USER", path)
			}
			if ep := final.entrypoint(t); len(ep) == 0 {
				t.Errorf("%s: no ENTRYPOINT", path)
			}
			// The Deployment runs the image as the image's own user.
			for name, dep := range m.deployments() {
				for _, c := range dep.Spec.Template.Spec.Containers {
					if repo, _, _ := splitImage(c.Image); repo != image {
						continue
					}
					run := c.SecurityContext.RunAsUser
					if run == nil && dep.Spec.Template.Spec.SecurityContext != nil {
						run = dep.Spec.Template.Spec.SecurityContext.RunAsUser
					}
					if run != nil && *run != uid {
						t.Errorf("Deployment %s runs %s as uid %d, the image's USER is %d", name, image, *run, uid)
					}
				}
			}
			// The build context is the repository root: a Dockerfile-specific
			// ignore file keeps .git and build output out of it.
			ignore, err := os.ReadFile(path + ".dockerignore")
			if err != nil {
				t.Errorf("%s: %v", path, err)
			} else if !slices.Contains(strings.Fields(string(ignore)), ".git") {
				t.Errorf("%s.dockerignore does not leave out .git", path)
			}
			if base != "web" {
				return
			}
			build := false
			for _, s := range d.stages[:len(d.stages)-1] {
				for _, in := range s.ins {
					build = build || ((in.cmd == "ENV" || in.cmd == "RUN" || in.cmd == "ARG") && strings.Contains(in.args, "CGO_ENABLED=0"))
				}
			}
			if !build {
				t.Errorf("%s: the web binary is not built with CGO_ENABLED=0", path)
			}
			if !strings.Contains(final.from, "distroless/static") && final.from != "scratch" {
				t.Errorf("%s: final base %s, want distroless/static or scratch (no shell)", path, final.from)
			}
			env := final.env()
			web := m.get("Deployment", webName).(*appsv1.Deployment)
			port := web.Spec.Template.Spec.Containers[0].Ports[0].ContainerPort
			if want := fmt.Sprintf("0.0.0.0:%d", port); env["OMTX_ADDR"] != want {
				t.Errorf("%s: OMTX_ADDR %q, want %q", path, env["OMTX_ADDR"], want)
			}
			if in, ok := final.last("EXPOSE"); !ok || strings.Fields(in.args)[0] != strconv.Itoa(int(port)) {
				t.Errorf("%s: does not EXPOSE %d", path, port)
			}
		})
	}
}

// Make sure a parse error in the HCL would be reported, not ignored.
func TestHCLParserReportsErrors(t *testing.T) {
	_, diags := hclparse.NewParser().ParseHCL([]byte("resource \"x\" {\n"), "broken.tf")
	if !diags.HasErrors() {
		t.Fatal("an unterminated block parsed without error")
	}
	var _ hcl.Diagnostics = diags
}

// containerPort is the web container's port of that name.
func containerPort(d *appsv1.Deployment, name string) (corev1.ContainerPort, bool) {
	for _, p := range d.Spec.Template.Spec.Containers[0].Ports {
		if p.Name == name {
			return p, true
		}
	}
	return corev1.ContainerPort{}, false
}

// envOf is the first container's value of an environment variable.
func envOf(d *appsv1.Deployment, name string) string {
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}
