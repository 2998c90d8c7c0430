import { MongoClient, type Collection, type Db, type Document, type Filter } from 'mongodb';
import type { Registry } from 'prom-client';
import type { Logger } from './logger.ts';
import { instrumentMongo } from './mongoMetrics.ts';

/** Collection names, in one place. Every hot document is addressed by _id. */
export const COLLECTIONS = {
  products: 'products',
  categories: 'categories',
  /** Raw accepted events, _id = eventKey(userId, eventId): the store of record every aggregate can be rebuilt from. */
  events: 'events',
  /** Ingestion batches not yet applied to the aggregates (crash recovery). */
  inbox: 'event_inbox',
  /** eventKeys of events already applied, to recognise redelivered copies. */
  applied: 'applied_events',
  users: 'user_state',
  cooc: 'cooccurrence',
  buyerDays: 'buyer_days',
  bestSellers: 'best_sellers',
  lists: 'recommendation_lists',
  aggregator: 'aggregator_state',
  plans: 'aggregator_plans',
  activeUsers: 'active_users',
  /** Per experiment and variant: lists served, users, attributed events (recommendations and events subgraphs). */
  experimentTallies: 'experiment_tallies',
  /** Per experiment and user: served, clicked, added to cart, purchased, each recorded once (distinct users). */
  experimentUsers: 'experiment_users',
  /** Every ranking model trained (rankerModels.ts): its figures, its verdict, and dump_model()'s JSON; one serves. */
  rankerModels: 'ranker_models',
} as const;

export interface MongoConnection {
  readonly client: MongoClient;
  readonly db: Db;
  close(): Promise<void>;
}

/**
 * A connected client. With the process's registry, the driver's monitoring events become its
 * recs_mongodb_* metrics and a lost connection is logged once (see instrumentMongo).
 */
export async function connectMongo(url: string, dbName: string, logger: Logger, appName: string, metrics?: Registry): Promise<MongoConnection> {
  const client = new MongoClient(url, {
    appName,
    serverSelectionTimeoutMS: 5_000,
    connectTimeoutMS: 5_000,
    maxPoolSize: 50,
    // command events for recs_mongodb_command_errors_total
    monitorCommands: metrics !== undefined,
  });
  await client.connect();
  if (metrics !== undefined) instrumentMongo(client, metrics, logger);
  logger.debug({ db: dbName }, 'connected to MongoDB');
  return { client, db: client.db(dbName), close: () => client.close() };
}

/** Indexes for the queries that are not by _id (MongoDB uses them; FerretDB accepts them). */
export async function ensureIndexes(db: Db): Promise<void> {
  await Promise.all([
    db.collection(COLLECTIONS.products).createIndex({ categoryId: 1, _id: 1 }),
    db.collection(COLLECTIONS.events).createIndex({ userId: 1, occurredAt: -1 }),
    db.collection(COLLECTIONS.events).createIndex({ receivedAt: 1 }),
    db.collection(COLLECTIONS.inbox).createIndex({ at: 1 }),
    db.collection(COLLECTIONS.applied).createIndex({ at: 1 }),
    db.collection(COLLECTIONS.plans).createIndex({ seq: 1 }),
    // the training job replays the raw events in the order they happened
    db.collection(COLLECTIONS.events).createIndex({ occurredAt: 1 }),
    db.collection(COLLECTIONS.rankerModels).createIndex({ status: 1, promotedAt: -1 }),
  ]);
}

/** Documents deleted per round by deleteInChunks. */
const DELETE_CHUNK = 10_000;

/**
 * Deletes every document `filter` matches, `DELETE_CHUNK` at a time by _id, and returns how many.
 * One deleteMany over more than about 32,000 documents fails on FerretDB's SQLite backend (its
 * statement has a variable per document: "too many SQL variables"), which the test and
 * development servers run; MongoDB takes either. Not atomic: a crash leaves part deleted, so
 * callers use it for deletions that can simply run again.
 */
export async function deleteInChunks<T extends Document>(collection: Collection<T>, filter: Filter<T> = {}): Promise<number> {
  let deleted = 0;
  for (;;) {
    const ids = (
      await collection
        .find(filter, { projection: { _id: 1 } })
        .limit(DELETE_CHUNK)
        .toArray()
    ).map((doc) => doc._id);
    if (ids.length === 0) return deleted;
    const result = await collection.deleteMany({ _id: { $in: ids } } as Filter<T>);
    deleted += result.deletedCount;
    if (ids.length < DELETE_CHUNK) return deleted;
  }
}
