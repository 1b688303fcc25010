/**
 * State stores: their names, builders and value layouts. The EMA store holds one entry per
 * (run, profile, tensor, chunk offset); the runs store holds each run's metadata. The only
 * package that configures RocksDB.
 */
package io.averager.store;
