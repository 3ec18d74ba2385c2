import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Drover's custom search attributes: what operators filter on in the Temporal UI. */
export const DroverStatus = defineSearchAttributeKey('DroverStatus', SearchAttributeType.KEYWORD);
export const DroverModel = defineSearchAttributeKey('DroverModel', SearchAttributeType.KEYWORD);
export const DroverProvider = defineSearchAttributeKey('DroverProvider', SearchAttributeType.KEYWORD);
export const DroverTenant = defineSearchAttributeKey('DroverTenant', SearchAttributeType.KEYWORD);
export const DroverItemCount = defineSearchAttributeKey('DroverItemCount', SearchAttributeType.INT);
export const DroverCostUsd = defineSearchAttributeKey('DroverCostUsd', SearchAttributeType.DOUBLE);
/** What a workflow is to Drover, so the UI's list can show batches alone: `DroverKind = "batch"`. */
export const DroverKind = defineSearchAttributeKey('DroverKind', SearchAttributeType.KEYWORD);

export type DroverKindValue = 'batch' | 'chunk' | 'webhook';

export const SEARCH_ATTRIBUTES = [
  DroverStatus,
  DroverModel,
  DroverProvider,
  DroverTenant,
  DroverItemCount,
  DroverCostUsd,
  DroverKind,
] as const;
