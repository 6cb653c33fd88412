// Package kubernetes holds wsbench's Kubernetes manifests (*.yaml): the
// server under test, an Indexed Job of identical load-generator shards, the
// volume their result files go to, and the merge step. It has no code; its
// test decodes every manifest strictly into the Kubernetes API types and
// checks the fields the shards depend on.
package kubernetes
