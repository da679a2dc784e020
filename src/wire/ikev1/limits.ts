/**
 * Hard caps on repeated structures (STYLE A.4.2). A message over a cap is refused with
 * IKE_ERR_WIRE_LIMIT before more work is spent on it: no legitimate IKEv1 message comes near
 * these numbers (a fat Main Mode MM1 carries ~20 proposals/transforms and ~10 vendor IDs).
 */
export const WireLimits = {
  /** Payloads in one message (top-level chain). */
  payloads: 64,
  notifications: 16,
  vendorIds: 32,
  certificates: 16,
  certRequests: 16,
  /** Proposals in one SA payload. */
  proposals: 64,
  transformsPerProposal: 64,
  attributesPerTransform: 64,
  /** SPIs in one Delete payload. */
  deleteSpis: 1024,
} as const;
