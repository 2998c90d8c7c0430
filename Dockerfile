# One image for every process; docker-compose.yml picks the entry point.
# Node 24 runs the TypeScript sources directly (type stripping); `npm run typecheck` is the build gate.
FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY . .
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force
USER node
EXPOSE 4000
CMD ["node", "gateway/src/index.ts"]
