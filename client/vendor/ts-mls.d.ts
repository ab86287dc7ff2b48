// Types of the vendored ts-mls bundle (ts-mls.js), as client/mls uses it:
// each name it imports is declared, and opaque. The bundle itself is not
// type-checked here; RFC 9420's test vectors check it, in Chromium
// (examples/web/mls_eval_test.go).
export declare const createApplicationMessage: any;
export declare const createCommit: any;
export declare const createGroup: any;
export declare const decodeGroupState: any;
export declare const decodeMlsMessage: any;
export declare const defaultCapabilities: any;
export declare const defaultClientConfig: any;
export declare const defaultLifetime: any;
export declare const emptyPskIndex: any;
export declare const encodeGroupState: any;
export declare const encodeMlsMessage: any;
export declare const generateKeyPackageWithKey: any;
export declare const getCiphersuiteFromName: any;
export declare const getCiphersuiteImpl: any;
export declare const joinGroup: any;
export declare const processPrivateMessage: any;
