/** Deterministic child ids: a chunk is found from its batch id alone, in the UI, by retries and by reconciliation. */
export function chunkWorkflowId(batchId: string, chunkIndex: number): string {
  return `${batchId}/chunk-${chunkIndex}`;
}
