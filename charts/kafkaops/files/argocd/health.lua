-- Argo CD health of every kafkaops kind (one script for the five; docs/status.md has the table).
-- KafkaAccessPolicy has no status: stored is in force (the API server checks it), so Healthy.
-- Paused is Suspended. Ready True is Healthy. Ready False is Progressing while the operator keeps
-- retrying on its own (Reconciling True: BrokerUnavailable, ClusterNotReady, Reassigning, Unreachable,
-- CredentialsPending) and Degraded when only a person can fix it (Stalled True: InvalidConfig,
-- PolicyViolation, ClusterNotFound..., or an operator older than these conditions).
local hs = {status = "Progressing", message = "Waiting for the operator"}
local meta = obj.metadata or {}
if meta.deletionTimestamp ~= nil then
  hs.message = "Being deleted"
  return hs
end
if obj.kind == "KafkaAccessPolicy" then
  return {status = "Healthy", message = "In force: admission and the operator read it as stored"}
end
local annotations = meta.annotations or {}
if string.lower(annotations["kafkaops.io/paused"] or "") == "true" then
  return {status = "Suspended", message = "Paused by the kafkaops.io/paused annotation"}
end
local status = obj.status or {}
if status.conditions == nil then return hs end
if status.observedGeneration == nil or status.observedGeneration < (meta.generation or 0) then
  hs.message = "Waiting for the operator to observe generation " .. tostring(meta.generation)
  return hs
end
local byType = {}
for _, condition in ipairs(status.conditions) do byType[condition.type] = condition end
local ready = byType["Ready"]
if ready == nil then return hs end
hs.message = (ready.reason or "") .. ": " .. (ready.message or "")
if ready.status == "True" then
  hs.status = "Healthy"
elseif byType["Reconciling"] ~= nil and byType["Reconciling"].status == "True" then
  hs.status = "Progressing"
else
  hs.status = "Degraded"
end
return hs
