/**
 * State stores: their names, builders and value layouts, and typed facades over them
 * ({@link io.averager.store.RunStore}, {@link io.averager.store.EmaEntries},
 * {@link io.averager.store.Distances}), so that no processor decodes store bytes by hand. The EMA
 * store holds one entry per (run, profile, tensor, chunk offset); the runs store each run's
 * progress and the layouts store its tensor layout. The only package that configures RocksDB.
 */
package io.averager.store;
