/**
 * The publisher library training code calls: one snapshot of named tensors, sent as a header,
 * grid-aligned chunks and a commit inside one Kafka transaction.
 */
package io.averager.publish;
