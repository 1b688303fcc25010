package io.averager.lifecycle;

/**
 * What the service does with a chunk of a floating tensor that holds NaN or an infinity
 * ({@code averager.nonfinite}).
 */
public enum NonFinitePolicy {

    /**
     * The chunk is not applied and goes to the dead letters, naming the first bad element; its
     * snapshot yields no checkpoint. Entries that received the snapshot's other chunks include
     * them, as with a snapshot whose commit never arrives.
     */
    REJECT,

    /** The chunk is applied as it is: the EMA of the affected elements becomes non-finite. */
    ALLOW
}
