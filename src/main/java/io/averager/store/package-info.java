/**
 * State stores: their names, builders and typed facades over their values. The EMA store holds
 * one entry per (run, profile, tensor, chunk offset) ({@link io.averager.store.EmaEntries}); the
 * layouts store holds each run's tensor layout, written on its first snapshot and on SET, and the
 * runs store its progress, written per chunk (both read as one {@link io.averager.store.Run} by
 * {@link io.averager.store.RunStore}); the distances store the post-hoc distance history
 * ({@link io.averager.store.Distances}). The only package that configures RocksDB.
 */
package io.averager.store;
