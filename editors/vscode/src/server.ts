/**
 * The bundled language server's entry point (dist/server.js). The client starts it over Node IPC;
 * `--stdio` and `--socket=N` work too (the connection reads the transport from the command line).
 */
import { createConnection, ProposedFeatures } from 'vscode-languageserver/node';
import { serve } from './serve.js';

serve(createConnection(ProposedFeatures.all));
