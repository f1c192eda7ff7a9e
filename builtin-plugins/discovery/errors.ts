/**
 * Discovery's own error code, declared through the plugin protocol (`errors` in the definition) like
 * a third party's, and typed for `new NuvomError` / `isNuvomError` by augmenting nuvom/plugin. The
 * code keeps its published name (docs/errors.md).
 */
declare module '../../sdk/plugin.ts' {
  interface PluginErrorCodes {
    NUVOM_E_DISCOVERY: true;
  }
}

export const DISCOVERY_ERRORS = {
  NUVOM_E_DISCOVERY: 'task discovery found a problem',
} as const;
