# The single-Deployment check that poolguard makes, in Rego, for the benchmark's OPA
# server (tests/bench/bench.sh): replicas x pool size against a fixed limit, answered as
# an AdmissionReview response. OPA has no inventory here, so unlike poolguard it judges
# the object alone: no other workloads, no role sums, no reservations.
#
# Served as `opa run --server policy.rego`; the webhook-style endpoint is
# POST /v0/data/poolguard/review, which takes the raw AdmissionReview as input (the v1
# data API would need it wrapped in {"input": ...}) and returns the document bare.
package poolguard

# The role's CONNECTION LIMIT, and HikariCP's default pool size.
limit := 200

default_pool := 10

pool_variables := {"SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE", "SPRING_DATASOURCE_HIKARI_MAXIMUM_POOL_SIZE"}

subject := input.request.object

# spec.replicas of a Deployment or of a Scale (kubectl scale); absent: 1.
replicas := object.get(subject, ["spec", "replicas"], 1)

# Per container, the last entry of a pool variable wins, as in Kubernetes.
container_pools := [to_number(values[count(values) - 1]) |
	some c in object.get(subject, ["spec", "template", "spec", "containers"], [])
	values := [e.value | some e in object.get(c, "env", []); pool_variables[e.name]]
	count(values) > 0
]

pool := sum(container_pools) if count(container_pools) > 0

else := default_pool

connections := replicas * pool

response := {"uid": input.request.uid, "allowed": true} if connections <= limit

else := {
	"uid": input.request.uid,
	"allowed": false,
	"status": {
		"code": 403,
		"reason": "Forbidden",
		"message": sprintf("%s/%s would hold %d replicas x pool %d = %d connections, over the limit of %d", [
			input.request.namespace, input.request.name, replicas, pool, connections, limit,
		]),
	},
}

review := {
	"apiVersion": "admission.k8s.io/v1",
	"kind": "AdmissionReview",
	"response": response,
}
