import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { BatchProgress, ChunkCompletion } from './contracts.js';

/** A chunk tells its batch it is done; sent by workflow id so it reaches the batch's current run. */
export const chunkCompletedSignal = defineSignal<[ChunkCompletion]>('chunkCompleted');

/** Live status, counts and usage of a running batch. */
export const progressQuery = defineQuery<BatchProgress>('progress');
