/**
 * The Kafka Streams topology: validate, then apply each chunk to the EMA state, then emit
 * checkpoint records, one processor per concern. Also the topic specifications the service
 * creates its topics from.
 */
package io.averager.topology;
