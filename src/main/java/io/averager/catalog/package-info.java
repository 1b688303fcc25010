/**
 * What checkpoints exist: reading the manifests topic, and checking a file against its manifest.
 */
package io.averager.catalog;
