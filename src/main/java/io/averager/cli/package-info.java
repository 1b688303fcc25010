/** The command line: thin picocli commands that parse, build a configuration and call. */
package io.averager.cli;
