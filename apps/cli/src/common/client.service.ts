import { Inject, Injectable } from '@nestjs/common';

import { openClient, type ClientConfig, type OrchardClient } from '#client';

import { CLIENT_CONFIG, USER_AGENT } from '../cli-config.js';

/** Hands commands a client for the configured controller (default context + environment). */
@Injectable()
export class ClientService {
  constructor(@Inject(CLIENT_CONFIG) readonly config: ClientConfig) {}

  open(): Promise<OrchardClient> {
    return openClient(this.config, { userAgent: USER_AGENT });
  }
}
