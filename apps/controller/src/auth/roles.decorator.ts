import { SetMetadata } from '@nestjs/common';

import type { Role } from '#api';

export const ACCESS_KEY = 'orchard:access';

/** Who may call a route: any of the listed roles, any authenticated account, or anyone. */
export type Access = { roles: readonly Role[] } | { anyAccount: true } | { public: true };

/** The route needs at least one of these roles. */
export const Roles = (...roles: Role[]) => SetMetadata(ACCESS_KEY, { roles } satisfies Access);

/** Any valid service account may call the route. */
export const AnyAccount = () => SetMetadata(ACCESS_KEY, { anyAccount: true } satisfies Access);

/** Anyone, without credentials: only for routes that reveal nothing (the API root). */
export const Public = () => SetMetadata(ACCESS_KEY, { public: true } satisfies Access);
