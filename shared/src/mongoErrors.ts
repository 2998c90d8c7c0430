/**
 * What MongoDB's write errors mean, in one place: every caller that tells "already there" apart
 * from a failure asks these, instead of comparing codes and unpacking bulk errors itself.
 */
import { MongoBulkWriteError, MongoServerError, type WriteError } from 'mongodb';

/** E11000: a unique index (every collection's _id) already holds the key. */
const DUPLICATE_KEY = 11000;

/**
 * A write refused because its key is taken: a single write's MongoServerError, or an ordered
 * bulk's error (whose code is its first write error's).
 */
export function isDuplicateKey(error: unknown): boolean {
  return error instanceof MongoServerError && error.code === DUPLICATE_KEY;
}

/** One write of a bulk refused because its key is taken. */
export function isDuplicateKeyWrite(writeError: Pick<WriteError, 'code'>): boolean {
  return writeError.code === DUPLICATE_KEY;
}

const isReadonlyArray: (value: unknown) => value is readonly unknown[] = Array.isArray;

/** A bulk error's write errors as an array (the driver's type allows one or many). */
export function writeErrorsOf(error: MongoBulkWriteError): readonly WriteError[] {
  const { writeErrors } = error;
  return isReadonlyArray(writeErrors) ? writeErrors : [writeErrors];
}

/**
 * True when MongoDB answered a bulk write per document and refused only documents whose key was
 * taken: everything else is written, so the caller may go on as if the bulk succeeded. A bulk
 * error without write errors (the connection dropped, a write-concern error) is not this: nobody
 * knows what was written.
 */
export function onlyDuplicateKeys(error: unknown): boolean {
  if (!(error instanceof MongoBulkWriteError) || error.result?.getWriteConcernError() !== undefined) return false;
  const errors = writeErrorsOf(error);
  return errors.length > 0 && errors.every(isDuplicateKeyWrite);
}
