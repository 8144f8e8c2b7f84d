// The railyard policy pack: `pulumi preview --policy-pack policy --policy-pack-config policy/config/<stack>.json`.
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./policies";

// Mandatory unless a stack's config file says otherwise: a run that forgets the file gets production's rules.
new PolicyPack("railyard", { enforcementLevel: "mandatory", policies });
