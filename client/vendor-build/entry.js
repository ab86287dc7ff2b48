// The entry esbuild bundles into ../vendor/ts-mls.js: ts-mls's public API,
// plus the RFC 9420 primitives its internals hold (ref hash, labelled KDF,
// labelled signatures and HPKE), so that the IETF crypto-basics test
// vectors can be checked against the very bundle a page would load.
// ts-mls's index.js, less nobleCryptoProvider (it imports @noble/hashes,
// which the default, Web Crypto provider does not need).
export { defaultProposalTypes } from "ts-mls/defaultProposalType.js";
export { defaultExtensionTypes } from "ts-mls/defaultExtensionType.js";
export { acceptAll } from "ts-mls/incomingMessageAction.js";
export { proposeAddExternal, proposeExternal } from "ts-mls/externalProposal.js";
export { decodeExternalSender, encodeExternalSender } from "ts-mls/externalSender.js";
export { decodeRequiredCapabilities, encodeRequiredCapabilities, } from "ts-mls/requiredCapabilities.js";
export { defaultAuthenticationService } from "ts-mls/authenticationService.js";
export { defaultPaddingConfig } from "ts-mls/paddingConfig.js";
export { defaultKeyPackageEqualityConfig } from "ts-mls/keyPackageEqualityConfig.js";
export { defaultLifetimeConfig } from "ts-mls/lifetimeConfig.js";
export { generateKeyPackage, generateKeyPackageWithKey } from "ts-mls/keyPackage.js";
export { defaultKeyRetentionConfig } from "ts-mls/keyRetentionConfig.js";
export { createGroup, makePskIndex, joinGroup, joinGroupWithExtensions, decodeGroupState, encodeGroupState, } from "ts-mls/clientState.js";
export { createApplicationMessage, createProposal } from "ts-mls/createMessage.js";
export { zeroOutUint8Array } from "ts-mls/util/byteArray.js";
export { joinGroupExternal, createCommit, createGroupInfoWithExternalPub, createGroupInfoWithExternalPubAndRatchetTree, } from "ts-mls/createCommit.js";
export { processPrivateMessage, processMessage, processPublicMessage, } from "ts-mls/processMessages.js";
export { emptyPskIndex } from "ts-mls/pskIndex.js";
export { joinGroupFromReinit, reinitCreateNewGroup, reinitGroup, joinGroupFromBranch, branchGroup, } from "ts-mls/resumption.js";
export { mlsExporter } from "ts-mls/keySchedule.js";
export { ciphersuites, getCiphersuiteFromName, } from "ts-mls/crypto/ciphersuite.js";
export { getCiphersuiteImpl } from "ts-mls/crypto/getCiphersuiteImpl.js";
export { defaultCryptoProvider } from "ts-mls/crypto/implementation/default/provider.js";
export { bytesToBase64 } from "ts-mls/util/byteArray.js";
export { decodeMlsMessage, encodeMlsMessage, } from "ts-mls/message.js";
export { defaultLifetime } from "ts-mls/lifetime.js";
export { defaultCapabilities } from "ts-mls/defaultCapabilities.js";
export { contentTypes } from "ts-mls/contentType.js";
export { credentialTypes } from "ts-mls/credentialType.js";
export { protocolVersions } from "ts-mls/protocolVersion.js";
export { senderTypes, } from "ts-mls/sender.js";
export { resumptionPSKUsages } from "ts-mls/presharedkey.js";
export { refhash } from 'ts-mls/crypto/hash.js';
export { expandWithLabel, deriveSecret, deriveTreeSecret } from 'ts-mls/crypto/kdf.js';
export { signWithLabel, verifyWithLabel } from 'ts-mls/crypto/signature.js';
export { encryptWithLabel, decryptWithLabel } from 'ts-mls/crypto/hpke.js';
export { root, left, right, parent, sibling, toNodeIndex } from 'ts-mls/treemath.js';
// Restoring a saved group state needs the default client configuration.
export { defaultClientConfig } from 'ts-mls/clientConfig.js';
// For the IETF key-schedule test vectors.
export { initializeEpoch } from 'ts-mls/keySchedule.js';
export { decodeGroupContext, encodeGroupContext } from 'ts-mls/groupContext.js';
