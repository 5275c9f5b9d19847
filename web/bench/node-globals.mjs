// Injected by esbuild into the official SDK's bundle: its message serializer uses Node's
// global Buffer (DER signatures of the signed suites), which a browser lacks.
export { Buffer } from 'buffer';
