/**
 * Response shapes checked against the official SDK's types, so a field rename in the SDK shows up
 * as a type error here rather than as a confused client.
 */
import type { Batch } from 'openai/resources/batches';
import type { FileObject } from 'openai/resources/files';

/** The real API sends unset optional fields as `null` rather than leaving them out. */
export type Present<T> = { [K in keyof T]-?: undefined extends T[K] ? Exclude<T[K], undefined> | null : T[K] };

export type WireBatch = Present<Batch>;
export type WireFile = Omit<Present<FileObject>, 'purpose'> & { purpose: FileObject['purpose'] | 'evals' };
